/* The run page and the comparison page: Plotly charts drawn from the JSON the server rendered into
   the page (run-metrics-data, compare-data). Population mean with its bootstrap band, the best so far
   dashed; on the comparison page one colour per run. */
(function () {
  "use strict";
  const COLORS = ["#2457c5", "#c93c3c", "#2f9e63", "#c98a12", "#8e44ad", "#16a085"];
  const config = { displaylogo: false, responsive: true };
  const base = { margin: { l: 64, r: 12, t: 8, b: 44 }, plot_bgcolor: "#fff", paper_bgcolor: "#fff",
    hovermode: "closest", legend: { orientation: "h", y: -0.2 } };

  function read(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function rgba(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  function bandTraces(x, low, high, color, name, group) {
    if (!low || !low.length) return [];
    return [
      { x, y: high, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: group },
      { x, y: low, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: rgba(color, 0.16),
        name: name + " 95% band", legendgroup: group, hoverinfo: "skip" },
    ];
  }

  function done(el) { el.dataset.ready = "1"; }

  function designAxis(xs) {
    const last = xs.length ? xs[xs.length - 1] : 0;
    return { title: { text: "designs made by the run" }, rangemode: "tozero", dtick: last <= 20 ? 1 : null };
  }

  // ---- the run page ---------------------------------------------------------------------------------
  function runTraces(r, mode) {
    const color = COLORS[0];
    if (mode === "time") {
      const t = r.over_time;
      return [
        { x: t.t, y: t.mean, name: "population mean", mode: "lines+markers", line: { color, width: 2, shape: "hv" },
          marker: { size: 4 }, text: t.n.map((n) => n + " designs"), hovertemplate: "%{text}<br>mean %{y:.4f}<extra></extra>" },
        { x: t.t, y: t.max, name: "best", mode: "lines", line: { color: "#2f9e63", width: 1.5, dash: "dash", shape: "hv" } },
      ];
    }
    const b = r.by_design;
    return [
      ...bandTraces(b.x, b.band_low, b.band_high, color, "mean", "mean"),
      { x: b.x, y: b.mean, name: "population mean", mode: "lines", line: { color, width: 2 }, legendgroup: "mean",
        hovertemplate: "after %{x} designs<br>mean %{y:.4f}<extra></extra>" },
      { x: b.x, y: b.max, name: "best", mode: "lines", line: { color: "#2f9e63", width: 1.5, dash: "dash" } },
      { x: b.x, y: b.fitness, name: "each design", mode: "markers", marker: { color: "#5b6672", size: 5, opacity: 0.5 },
        text: b.name, hovertemplate: "%{text}<br>%{y:.4f}<extra></extra>" },
    ];
  }

  function drawRun(data) {
    document.querySelectorAll(".run-chart").forEach((el) => {
      const r = data.rungs[Number(el.dataset.index)];
      const mode = el.dataset.x || "design";
      const layout = Object.assign({}, base, {
        xaxis: mode === "time" ? { title: { text: "finished (UTC)" }, type: "date" }
          : designAxis(r.by_design.x),
        yaxis: { title: { text: r.rung + " fitness (" + r.metric + ")" }, tickformat: ".3f" },
      });
      Plotly.react(el, runTraces(r, mode), layout, config).then(() => done(el));
    });
    document.querySelectorAll(".rung-card .seg button").forEach((button) => button.addEventListener("click", () => {
      const card = button.closest(".rung-card");
      card.querySelectorAll(".seg button").forEach((o) => {
        o.classList.toggle("on", o === button);
        o.setAttribute("aria-pressed", String(o === button));
      });
      const el = card.querySelector(".run-chart");
      el.dataset.x = button.dataset.x;
      drawRun(data);
    }));
    const errors = document.getElementById("errors-chart");
    if (errors) {
      const rows = data.errors.over_time;
      const width = data.errors.bucket_minutes;
      const x = rows.map((b) => b.minute + width / 2); // each bucket drawn at its middle
      const traces = ["design", "check", "verify"].map((stage, i) => ({
        x, y: rows.map((b) => b[stage].rate), name: stage + " error rate", mode: "lines+markers", yaxis: "y2",
        line: { color: COLORS[i], width: 2 }, connectgaps: false }));
      const cats = Array.from(new Set(rows.flatMap((b) => Object.keys(b.categories)))).sort();
      cats.forEach((c, i) => traces.push({ type: "bar", x, width: width * 0.9, y: rows.map((b) => b.categories[c] || 0),
        name: c, marker: { color: rgba(COLORS[(i + 3) % COLORS.length], 0.55) } }));
      Plotly.react(errors, traces, Object.assign({}, base, { barmode: "stack", margin: { l: 56, r: 56, t: 8, b: 44 },
        legend: { orientation: "h", y: -0.32 },
        xaxis: { title: { text: "minutes since the run started" }, rangemode: "tozero" },
        yaxis: { title: { text: "failures" }, rangemode: "tozero" },
        yaxis2: { title: { text: "error rate" }, overlaying: "y", side: "right", range: [0, 1.05], dtick: 0.25, tickformat: ".0%" },
        annotations: rows.length ? [] : [{ text: "Nothing has finished yet", showarrow: false, xref: "paper", yref: "paper",
          x: 0.5, y: 0.5, font: { color: "#8a949e" } }] }), config).then(() => done(errors));
    }
  }

  // ---- the comparison page --------------------------------------------------------------------------
  function drawCompare(data) {
    document.querySelectorAll(".compare-chart").forEach((el) => {
      const rung = data.rungs[Number(el.dataset.index)];
      const traces = [];
      rung.runs.forEach((r, i) => {
        const color = COLORS[i % COLORS.length];
        const name = data.runs[i].name;
        const b = r.by_design;
        traces.push(...bandTraces(b.x, b.band_low, b.band_high, color, name, name));
        traces.push({ x: b.x, y: b.mean, name: name + " mean", mode: "lines", line: { color, width: 2.2 },
          legendgroup: name, hovertemplate: "after %{x} designs<br>mean %{y:.4f}<extra>" + name + "</extra>" });
        traces.push({ x: b.x, y: b.max, name: name + " best", mode: "lines", legendgroup: name,
          line: { color, width: 1.2, dash: "dash" }, hovertemplate: "best %{y:.4f}<extra>" + name + "</extra>" });
      });
      const layout = Object.assign({}, base, {
        xaxis: designAxis(rung.runs[0].by_design.x),
        yaxis: { title: { text: rung.rung + " fitness (" + rung.metric + ")" }, tickformat: ".3f" },
      });
      Plotly.react(el, traces, layout, config).then(() => done(el));
    });
  }

  function start() {
    if (!window.Plotly) { window.setTimeout(start, 50); return; }
    const run = read("run-metrics-data");
    if (run) drawRun(run);
    const comparison = read("compare-data");
    if (comparison) drawCompare(comparison);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
