// The run page's cumulative cost curve: dollars and GPU-hours over the run's time, best F on a second axis.
(function () {
  "use strict";
  function draw() {
    const el = document.getElementById("ledger-chart");
    const data = document.getElementById("ledger-curve");
    if (!el || !data || typeof Plotly === "undefined") return;
    const curve = JSON.parse(data.textContent);
    if (!curve.length) { el.textContent = "Nothing spent yet."; el.classList.add("muted"); return; }
    const hours = curve.map((p) => p.t_s / 3600);
    const line = (y, name, axis, dash) => ({ x: hours, y, name, yaxis: axis, mode: "lines",
      line: { shape: "hv", dash: dash || "solid" } });
    Plotly.newPlot(el, [
      line(curve.map((p) => p.dollars), "dollars", "y"),
      line(curve.map((p) => p.gpu_hours), "GPU-hours", "y"),
      line(curve.map((p) => p.cpu_hours), "CPU-hours", "y", "dot"),
      line(curve.map((p) => p.best_fitness), "best F", "y2", "dash"),
    ], {
      margin: { t: 10, r: 50, b: 40, l: 50 }, legend: { orientation: "h" },
      xaxis: { title: { text: "hours since the run started" } },
      yaxis: { title: { text: "cumulative cost" }, rangemode: "tozero" },
      yaxis2: { title: { text: "best F" }, overlaying: "y", side: "right", showgrid: false, zeroline: false },
    }, { displaylogo: false, responsive: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
