/* The dashboard: the fitness chart (redrawn from dashboard/fitness.json when a verification ends), the
   throughput chart, and the live wiring: each event kind names the panels it changes, and each panel
   re-reads itself from the server (an htmx partial) at most every second or two. */
(function () {
  "use strict";
  const me = document.currentScript;
  const live = window.GenesysLive;
  const fitnessUrl = me ? me.dataset.fitness : "";
  const username = me ? me.dataset.user : "";
  const config = { displaylogo: false, responsive: true };
  const COLORS = ["#2457c5", "#2f9e63", "#c98a12", "#8e44ad", "#c93c3c", "#16a085", "#5b6672", "#d35400"];
  let xMode = "generation";
  let fitness = JSON.parse((document.getElementById("fitness-data") || { textContent: "{}" }).textContent);

  // ---- fitness ------------------------------------------------------------------------------------
  function fitnessTraces() {
    const traces = [];
    (fitness.rungs || []).forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const group = s.rung;
      if (xMode === "generation") {
        const g = s.generation;
        const hover = g.x.map((x, k) => "generation " + x + "<br>" + g.n[k] + " verified");
        traces.push({ x: g.x, y: g.best, name: s.rung + " best", legendgroup: group, mode: "lines+markers",
          line: { color, width: 2 }, marker: { size: 6 }, text: hover,
          hovertemplate: "%{text}<br>best %{y:.4f}<extra>" + s.rung + "</extra>" });
        traces.push({ x: g.x, y: g.mean, name: s.rung + " mean", legendgroup: group, mode: "lines",
          line: { color, width: 1.5, dash: "dash" }, text: hover,
          hovertemplate: "%{text}<br>mean %{y:.4f}<extra>" + s.rung + "</extra>" });
      } else {
        const t = s.time;
        traces.push({ x: t.t, y: t.fitness, name: s.rung + " verifications", legendgroup: group, mode: "markers",
          marker: { color, size: t.seed.map((seed) => (seed ? 9 : 5)), symbol: t.seed.map((seed) => (seed ? "diamond" : "circle")),
            opacity: 0.45 }, text: t.name, customdata: t.slug,
          hovertemplate: "%{text}<br>%{y:.4f}<br>%{x}<extra>" + s.rung + "</extra>" });
        traces.push({ x: t.t, y: t.best, name: s.rung + " best so far", legendgroup: group, mode: "lines",
          line: { color, width: 2, shape: "hv" }, hoverinfo: "skip" });
        traces.push({ x: t.t, y: t.mean, name: s.rung + " mean of last " + fitness.rolling, legendgroup: group,
          mode: "lines", line: { color, width: 1.5, dash: "dash" }, hoverinfo: "skip" });
      }
    });
    return traces;
  }

  /* Axes that stay readable with one point or a short span: Plotly would zoom to the point and label
     ticks in milliseconds ("15:20:33.1145") or repeat one rounded value. The range is widened to a
     minimum span around the data, and date ticks never go below seconds. */
  const DATE_TICKS = [
    { dtickrange: [null, 60e3], value: "%H:%M:%S" },
    { dtickrange: [60e3, 86400e3], value: "%H:%M\n%b %-d" },
    { dtickrange: [86400e3, null], value: "%b %-d\n%Y" },
  ];
  function spanAtLeast(values, minSpan) {
    const v = values.filter((x) => x !== null && x !== undefined && isFinite(x));
    if (!v.length) return undefined;
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    if (hi - lo >= minSpan) return undefined; // Plotly's autorange is fine
    const mid = (lo + hi) / 2;
    return [mid - minSpan / 2, mid + minSpan / 2];
  }
  function fitnessAxes() {
    const rungs = fitness.rungs || [];
    const ys = rungs.flatMap((s) => (xMode === "generation" ? s.generation.best.concat(s.generation.mean) : s.time.fitness));
    const yaxis = { title: { text: "fitness" }, zeroline: true, zerolinecolor: "#d8dee4", tickformat: ".3f",
      range: spanAtLeast(ys, 0.02) };
    if (xMode === "generation") {
      return { yaxis, xaxis: { title: { text: "generation" }, dtick: 1, zeroline: false,
        range: spanAtLeast(rungs.flatMap((s) => s.generation.x), 1) } };
    }
    const times = spanAtLeast(rungs.flatMap((s) => s.time.t.map((t) => Date.parse(t))), 3600e3);
    return { yaxis, xaxis: { title: { text: "finished (UTC)" }, type: "date", tickformatstops: DATE_TICKS,
      range: times && times.map((t) => new Date(t).toISOString()) } };
  }

  function drawFitness() {
    const el = document.getElementById("fitness-chart");
    if (!el || !window.Plotly) return;
    const layout = {
      margin: { l: 60, r: 12, t: 8, b: 44 }, plot_bgcolor: "#fff", paper_bgcolor: "#fff", hovermode: "closest",
      legend: { orientation: "h", y: -0.18 }, uirevision: xMode,
      ...fitnessAxes(),
      annotations: (fitness.points ? [] : [{ text: "No verified designs yet", showarrow: false, xref: "paper",
        yref: "paper", x: 0.5, y: 0.5, font: { color: "#8a949e" } }]),
    };
    Plotly.react(el, fitnessTraces(), layout, config);
    el.dataset.points = String(fitness.points || 0);
    el.dataset.x = xMode;
    el.dataset.ready = "1";
  }

  const refreshFitness = live ? live.throttle(async () => {
    const r = await fetch(fitnessUrl, { credentials: "same-origin" });
    if (!r.ok) return;
    fitness = await r.json();
    drawFitness();
    const el = document.getElementById("fitness-chart");
    if (el) el.dataset.liveUpdates = String(Number(el.dataset.liveUpdates || 0) + 1);
  }, 1000) : () => {};

  document.querySelectorAll("#fitness-card .seg button").forEach((b) => b.addEventListener("click", () => {
    xMode = b.dataset.x;
    document.querySelectorAll("#fitness-card .seg button").forEach((o) => {
      o.classList.toggle("on", o === b);
      o.setAttribute("aria-pressed", String(o === b));
    });
    drawFitness();
  }));

  function openDesign(ev) {
    const p = ev.points && ev.points[0];
    if (p && p.customdata) window.location.href = "/designs/" + p.customdata + "/";
  }

  // ---- throughput ---------------------------------------------------------------------------------
  function drawThroughput() {
    const el = document.getElementById("throughput-chart");
    const data = document.getElementById("throughput-data");
    if (!el || !data || !window.Plotly) return;
    const c = JSON.parse(data.textContent);
    const mid = c.t.map((t) => new Date(Date.parse(t) + 1800e3).toISOString()); // each bar centred in its hour
    Plotly.react(el, [
      { type: "bar", x: mid, y: c.designs, name: "designs", marker: { color: "#2457c5" },
        hovertemplate: "%{y} designs<extra></extra>" },
      { type: "bar", x: mid, y: c.verifications, name: "verifications", marker: { color: "#2f9e63" },
        hovertemplate: "%{y} verifications<extra></extra>" },
    ], { margin: { l: 36, r: 8, t: 22, b: 30 }, barmode: "group", bargap: 0.15, plot_bgcolor: "#fff",
      paper_bgcolor: "#fff", showlegend: true,
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1, yanchor: "bottom", font: { size: 11 } },
      xaxis: { type: "date", range: [c.t[0], new Date(Date.parse(c.t[c.t.length - 1]) + 3600e3).toISOString()] },
      yaxis: { rangemode: "tozero", title: { text: "per hour", font: { size: 11 } } } },
    { displaylogo: false, responsive: true, displayModeBar: false });
  }

  // ---- live wiring --------------------------------------------------------------------------------
  const panels = {};
  function panel(name, ms) {
    panels[name] = live.throttle(() => htmx.trigger(document.body, "genesys:" + name), ms || 1500);
    return panels[name];
  }

  function controlsChanged(event) {
    if (event.payload && event.payload.actor === username) return; // our own change: its answer is shown
    const box = document.getElementById("run-controls");
    const form = document.getElementById("settings-form");
    const busy = form && (form.dataset.dirty === "1" || form.contains(document.activeElement));
    if (!busy) { panels.controls(); return; }
    const notice = document.getElementById("controls-notice");
    if (notice && box) {
      notice.hidden = false;
      notice.textContent = (event.payload.actor || "Someone") + " changed the run (" + event.kind.split(".")[1].replace("_", " ") +
        "). Save to apply your values over theirs, or reload the page to see theirs.";
    }
  }

  function wire() {
    if (!live || !window.htmx) return;
    panel("summary", 2000);
    panel("ladder", 1500);
    panel("throughput", 5000);
    panel("workers", 2000);
    panel("feed", 1000);
    panel("controls", 500);
    live.on("*", (e) => { if (e.kind !== "verification.progress") panels.feed(); });
    live.on("design.", () => { panels.summary(); panels.throughput(); });
    live.on("job.", () => panels.workers());
    live.on("verification.", (e) => {
      panels.workers();
      if (e.kind === "verification.progress") return;
      panels.ladder();
      panels.summary();
      if (e.kind === "verification.done" || e.kind === "verification.failed") { refreshFitness(); panels.throughput(); }
    });
    live.on("run.", (e) => {
      panels.summary();
      panels.ladder();
      panels.workers();
      if (document.getElementById("settings-form")) controlsChanged(e);
    });
  }

  document.addEventListener("input", (ev) => {
    const form = ev.target.closest && ev.target.closest("#settings-form");
    if (form) form.dataset.dirty = "1";
  });
  // A swapped-in throughput panel brings a fresh, empty chart element and the data for it.
  document.body.addEventListener("htmx:afterSettle", () => {
    const el = document.getElementById("throughput-chart");
    if (el && !el.data) drawThroughput();
  });

  function draw() {
    drawFitness();
    drawThroughput();
    const el = document.getElementById("fitness-chart");
    if (el && el.on) el.on("plotly_click", openDesign);
  }
  wire();
  if (document.readyState === "complete") draw(); else window.addEventListener("load", draw);
})();
