/* The design page: loss curves, per-task scores and the capability profile (Plotly), and line numbers that open
   the annotation form under a unit's line. Everything else on the page is server-rendered. */
(function () {
  "use strict";
  const dataEl = document.getElementById("chart-data");
  const charts = dataEl ? JSON.parse(dataEl.textContent) : { curves: [], scores: [] };
  const config = { displaylogo: false, responsive: true };
  // One colour per rung in both charts, whatever else is drawn (Plotly's default palette).
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];
  const rungs = [...new Set((charts.curves || []).map((c) => c.rung).concat((charts.scores || []).map((s) => s.rung)))];
  const colorOf = (rung) => PALETTE[Math.max(0, rungs.indexOf(rung)) % PALETTE.length];
  const base = { margin: { l: 56, r: 12, t: 10, b: 42 }, plot_bgcolor: "#fff", paper_bgcolor: "#fff",
    legend: { orientation: "h", y: -0.28 } };

  // Training tokens on x where every curve reports them (steps are not comparable across rungs or
  // batch sizes); the parents' curves at the same rungs in grey underneath; a linear/log switch.
  function lossChart() {
    const el = document.getElementById("loss-chart");
    if (!el || !window.Plotly || !charts.curves.length) return;
    const parents = charts.parent_curves || [];
    const all = charts.curves.flatMap((c) => Object.values(c.curves)).concat(parents.map((p) => p.train));
    const byTokens = all.every((c) => Array.isArray(c.tokens));
    const xOf = (c) => (byTokens ? c.tokens : c.x);
    const traces = [];
    parents.forEach((p) => traces.push({ x: xOf(p.train), y: p.train.y, mode: "lines", name: p.name + " " + p.rung + " (parent)",
      line: { color: "rgba(120,130,140,0.55)", width: 1.5 }, hovertemplate: "%{y:.4f}<extra>" + p.name + " " + p.rung + "</extra>" }));
    charts.curves.forEach((c) => {
      // A run stopped by the monitor (or that crashed) keeps its curve, marked: name, dashes and an
      // ✕ where it stopped, with the reason on hover.
      const failed = c.status === "failed";
      const tag = failed ? " (failed)" : c.status === "running" || c.status === "queued" ? " (running)" : "";
      if (c.curves.train) traces.push({ x: xOf(c.curves.train), y: c.curves.train.y, mode: "lines", name: c.rung + " train" + tag,
        line: { color: colorOf(c.rung), dash: failed ? "dash" : "solid" } });
      if (failed && c.curves.train && c.curves.train.y.length) {
        const n = c.curves.train.y.length - 1;
        traces.push({ x: [xOf(c.curves.train)[n]], y: [c.curves.train.y[n]], mode: "markers", showlegend: false,
          marker: { symbol: "x", size: 12, color: "#c0392b" }, name: c.rung + " stopped",
          hovertemplate: "stopped: " + (c.failure || "failed").replace(/[<>]/g, "") + "<extra>" + c.rung + "</extra>" });
      }
      if (c.curves.validation) traces.push({ x: xOf(c.curves.validation), y: c.curves.validation.y, mode: "lines+markers",
        name: c.rung + " validation", line: { dash: "dot", color: colorOf(c.rung) } });
    });
    const layout = { ...base, margin: { l: 56, r: 12, t: 30, b: 42 },
      xaxis: { title: { text: byTokens ? "training tokens" : "step" } }, yaxis: { title: { text: "loss (nats/token)" }, type: "linear" },
      updatemenus: [{ type: "buttons", direction: "right", x: 1, xanchor: "right", y: 1.12, yanchor: "top", showactive: true,
        buttons: [{ label: "linear", method: "relayout", args: [{ "yaxis.type": "linear" }] },
          { label: "log", method: "relayout", args: [{ "yaxis.type": "log" }] }] }] };
    el.dataset.xaxis = byTokens ? "tokens" : "step";
    Plotly.newPlot(el, traces, layout, config);
  }

  // Accuracy per task and rung, with ± one standard error, and chance accuracy as a grey mark.
  function scoreChart() {
    const el = document.getElementById("score-chart");
    if (!el || !window.Plotly || !charts.scores.length) return;
    const traces = charts.scores.map((s) => {
      const tasks = Object.keys(s.scores);
      const err = tasks.map((t) => (s.stderr && s.stderr[t] !== undefined ? s.stderr[t] : null));
      const trace = { type: "bar", name: s.rung, x: tasks, y: tasks.map((t) => s.scores[t]), marker: { color: colorOf(s.rung) } };
      if (err.some((e) => e !== null)) trace.error_y = { type: "data", array: err.map((e) => e || 0), visible: true };
      return trace;
    });
    const chance = {};
    charts.scores.forEach((s) => Object.entries(s.chance || {}).forEach(([t, c]) => { chance[t] = c; }));
    const tasks = Object.keys(chance);
    if (tasks.length) traces.push({ type: "scatter", mode: "markers", name: "chance", x: tasks, y: tasks.map((t) => chance[t]),
      marker: { symbol: "line-ew-open", size: 34, color: "#59636e", line: { width: 2.5 } }, hovertemplate: "chance %{y}<extra></extra>" });
    Plotly.newPlot(el, traces, { ...base, barmode: "group", yaxis: { title: { text: "accuracy" }, rangemode: "tozero" } }, config);
  }

  // The capability profile: probe scores above chance, (acc - chance) / (1 - chance), grouped by
  // probe, one series per design (this design, its parents, the GPT seed), ± one stderr.
  function capabilityChart() {
    const el = document.getElementById("capability-chart");
    const series = charts.capabilities || [];
    if (!el || !window.Plotly || !series.length) return;
    const COLORS = { "this design": "#1f77b4", "GPT seed": "#59636e" };
    const PARENTS = ["#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"];
    let parent = 0;
    const traces = series.map((s) => {
      const color = COLORS[s.role] || PARENTS[parent++ % PARENTS.length];
      const custom = s.accuracy.map((a, i) => [a, s.chance[i]]);
      return { type: "bar", name: s.name + " (" + s.role + ")", x: s.probes, y: s.values, marker: { color },
        customdata: custom, error_y: { type: "data", array: s.stderr.map((e) => e || 0), visible: true },
        hovertemplate: "%{y:.3f} above chance<br>accuracy %{customdata[0]:.3f}, chance %{customdata[1]:.3f}<extra>" +
          s.name.replace(/[<>]/g, "") + "</extra>" };
    });
    Plotly.newPlot(el, traces, { ...base, barmode: "group",
      yaxis: { title: { text: "(acc − chance) / (1 − chance)" }, zeroline: true, zerolinecolor: "#59636e" },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: { color: "#59636e", dash: "dot" } }] }, config);
  }

  function checkChart() {
    const el = document.getElementById("check-series");
    if (!el || !window.Plotly || !(charts.check_series || []).length) return;
    const traces = charts.check_series.map((s) => ({ y: s.y, mode: "lines+markers", name: s.name }));
    Plotly.newPlot(el, traces, { ...base, xaxis: { title: { text: "step of the checker's training run" } },
      yaxis: { title: { text: "loss" } } }, config);
  }

  /* A click on a line number opens the annotation form right under that line, filled with the unit and
     line, scrolled into view and focused (it used to fill the form at the page's end, out of sight).
     Cancel, Escape or a successful post put it back where it lives, in the Annotations section. */
  function unpin() {
    const row = document.querySelector("tr.pin-row");
    if (!row) return;
    const form = row.querySelector("#annotate-form");
    const home = document.getElementById("annotate-home");
    if (form && home && !document.querySelector("#annotations #annotate-form")) home.after(form);
    if (form) form.classList.remove("pinned-form");
    row.remove();
    document.querySelectorAll(".code tr.selected").forEach((tr) => tr.classList.remove("selected"));
  }

  function pin(a) {
    const form = document.getElementById("annotate-form");
    const line = a.closest("tr");
    if (!form || !line) return;
    unpin();
    if (!document.getElementById("annotate-home")) {
      const home = document.createElement("span");
      home.id = "annotate-home";
      home.hidden = true;
      form.before(home);
    }
    form.elements.unit_name.value = a.dataset.unit;
    form.elements.line.value = a.dataset.line;
    form.elements.text.placeholder = "Note on " + a.dataset.unit + ", line " + a.dataset.line;
    const row = document.createElement("tr");
    row.className = "note pin-row";
    const cell = document.createElement("td");
    cell.colSpan = 2;
    const bar = document.createElement("div");
    bar.className = "pin-bar small";
    bar.textContent = "Note on " + a.dataset.unit + ", line " + a.dataset.line + " ";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "link";
    cancel.textContent = "cancel";
    cancel.addEventListener("click", unpin);
    bar.append(cancel);
    cell.append(bar, form);
    row.append(cell);
    line.after(row);
    line.classList.add("selected");
    form.classList.add("pinned-form");
    history.replaceState(null, "", "#" + line.id);
    row.scrollIntoView({ block: "center", behavior: "instant" });
    form.elements.text.focus({ preventScroll: true });
  }

  document.addEventListener("click", (ev) => {
    const a = ev.target.closest && ev.target.closest("a[data-line]");
    if (!a || !document.getElementById("annotate-form")) return;
    ev.preventDefault();
    pin(a);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && ev.target.closest && ev.target.closest("tr.pin-row")) unpin();
  });
  // After a post the Annotations section comes back whole, with its own form: the pinned one goes.
  document.body.addEventListener("htmx:afterSettle", () => {
    if (document.querySelector("#annotations #annotate-form")) document.querySelectorAll("tr.pin-row").forEach((r) => r.remove());
  });

  function draw() { lossChart(); scoreChart(); capabilityChart(); checkChart(); }
  if (document.readyState === "complete") draw(); else window.addEventListener("load", draw);
})();
