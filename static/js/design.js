/* The design page: loss curves and per-task scores (Plotly), and line numbers that pin an
   annotation to a unit's line. Everything else on the page is server-rendered. */
(function () {
  "use strict";
  const dataEl = document.getElementById("chart-data");
  const charts = dataEl ? JSON.parse(dataEl.textContent) : { curves: [], scores: [] };
  const config = { displaylogo: false, responsive: true };
  const base = { margin: { l: 56, r: 12, t: 10, b: 42 }, plot_bgcolor: "#fff", paper_bgcolor: "#fff",
    legend: { orientation: "h", y: -0.2 } };

  function lossChart() {
    const el = document.getElementById("loss-chart");
    if (!el || !window.Plotly || !charts.curves.length) return;
    const traces = [];
    charts.curves.forEach((c) => {
      if (c.curves.train) traces.push({ x: c.curves.train.x, y: c.curves.train.y, mode: "lines", name: c.rung + " train" });
      if (c.curves.validation) traces.push({ x: c.curves.validation.x, y: c.curves.validation.y, mode: "lines+markers",
        name: c.rung + " validation", line: { dash: "dot" } });
    });
    Plotly.newPlot(el, traces, { ...base, xaxis: { title: { text: "step" } }, yaxis: { title: { text: "loss" } } }, config);
  }

  function scoreChart() {
    const el = document.getElementById("score-chart");
    if (!el || !window.Plotly || !charts.scores.length) return;
    const traces = charts.scores.map((s) => {
      const tasks = Object.keys(s.scores);
      return { type: "bar", name: s.rung, x: tasks, y: tasks.map((t) => s.scores[t]) };
    });
    Plotly.newPlot(el, traces, { ...base, barmode: "group", yaxis: { title: { text: "score" } } }, config);
  }

  function checkChart() {
    const el = document.getElementById("check-series");
    if (!el || !window.Plotly || !(charts.check_series || []).length) return;
    const traces = charts.check_series.map((s) => ({ y: s.y, mode: "lines+markers", name: s.name }));
    Plotly.newPlot(el, traces, { ...base, xaxis: { title: { text: "step of the checker's training run" } } }, config);
  }

  // A click on a line number pins the annotation form to that unit and line.
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest && ev.target.closest("a[data-line]");
    const form = document.getElementById("annotate-form");
    if (!a || !form) return;
    form.elements.unit_name.value = a.dataset.unit;
    form.elements.line.value = a.dataset.line;
    document.querySelectorAll(".code tr.selected").forEach((tr) => tr.classList.remove("selected"));
    form.elements.text.placeholder = "Note on " + a.dataset.unit + ", line " + a.dataset.line;
  });

  function draw() { lossChart(); scoreChart(); checkChart(); }
  if (document.readyState === "complete") draw(); else window.addEventListener("load", draw);
})();
