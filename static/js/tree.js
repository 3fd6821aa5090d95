/* The lineage graph: positions come from the server (generation on y, stable order on x); this
   script only colours, sizes and draws them with Plotly's WebGL scatter, which keeps 1,000+
   designs smooth. Search results (an htmx partial) carry the matching ids, which are highlighted. */
(function () {
  "use strict";
  const el = document.getElementById("lineage");
  if (!el) return;
  if (!window.Plotly) { el.textContent = "The plotting library did not load."; return; }

  const graph = JSON.parse(document.getElementById("graph-data").textContent);
  let matches = JSON.parse(document.getElementById("match-data").textContent); // null: no filter
  let focus = null;
  const n = graph.nodes;
  const count = n.id.length;
  const indexOf = new Map(n.id.map((id, i) => [id, i]));
  const css = getComputedStyle(document.documentElement);
  const STATUS = ["proposed", "implementing", "invalid", "unchecked", "checked", "verifying", "verified", "failed"];
  const STATUS_COLORS = Object.fromEntries(STATUS.map((s) => [s, css.getPropertyValue("--s-" + s).trim() || "#888"]));
  const ORIGIN_COLORS = { seed: "#c98a12", llm: "#2457c5", gp: "#8e44ad", upload: "#16a085", demo: "#b0b7bf" };
  const NO_FITNESS = "#c3cad1";
  const VIRIDIS = [[0, [68, 1, 84]], [0.25, [59, 82, 139]], [0.5, [33, 145, 140]], [0.75, [94, 201, 98]], [1, [253, 231, 37]]];
  const colorBy = document.getElementById("color-by");

  // The colour scale spans the 5th to 95th percentile of fitness, so one outlier does not wash
  // out the differences between the rest.
  const fit = n.fitness.filter((f) => f !== null).sort((a, b) => a - b);
  const quantile = (q) => fit[Math.min(fit.length - 1, Math.max(0, Math.round(q * (fit.length - 1))))];
  const clipped = fit.length >= 20;
  const fmin = fit.length ? (clipped ? quantile(0.05) : fit[0]) : 0;
  const fmax = fit.length ? (clipped ? quantile(0.95) : fit[fit.length - 1]) : 1;
  const maxGen = n.generation.length ? Math.max(...n.generation) : 0;

  function viridis(t) {
    t = Math.max(0, Math.min(1, t));
    for (let k = 1; k < VIRIDIS.length; k++) {
      const [t1, c1] = VIRIDIS[k];
      const [t0, c0] = VIRIDIS[k - 1];
      if (t <= t1) {
        const u = (t - t0) / (t1 - t0 || 1);
        return "rgb(" + c0.map((c, j) => Math.round(c + u * (c1[j] - c))).join(",") + ")";
      }
    }
    return "rgb(253,231,37)";
  }

  function colorOf(i, mode) {
    if (mode === "status") return STATUS_COLORS[n.status[i]] || "#888";
    if (mode === "origin") return ORIGIN_COLORS[n.origin_kind[i]] || "#888";
    const f = n.fitness[i];
    return f === null ? NO_FITNESS : viridis(fmax > fmin ? (f - fmin) / (fmax - fmin) : 0.5);
  }

  function fmt(v) { return v === null ? "–" : Number(v).toFixed(3); }

  const hover = n.id.map((_, i) =>
    "<b>" + n.name[i] + "</b><br>generation " + n.generation[i] + " · " + n.status[i] +
    (n.verdict[i] ? " · " + n.verdict[i] : "") + "<br>fitness " + fmt(n.fitness[i]) +
    " · confidence " + n.confidence[i] + "<br>" + (n.origin_kind[i] === "demo" ? "DEMO (made up)" : n.origin_kind[i]) + (n.is_seed[i] ? " · seed" : ""));

  function edgeTrace() {
    const xs = [];
    const ys = [];
    const e = graph.edges;
    for (let k = 0; k < e.length; k += 2) {
      const a = e[k];
      const b = e[k + 1];
      xs.push(n.x[a], n.x[b], null);
      ys.push(n.generation[a], n.generation[b], null);
    }
    return { type: "scattergl", mode: "lines", x: xs, y: ys, hoverinfo: "skip", showlegend: false,
      line: { color: "rgba(110,125,140,0.35)", width: 1 } };
  }

  function nodeTrace(mode) {
    const hit = matches ? new Set(matches) : null;
    const color = [];
    const size = [];
    const symbol = [];
    const opacity = [];
    for (let i = 0; i < count; i++) {
      color.push(colorOf(i, mode));
      size.push(7 + 3.5 * Math.min(n.confidence[i], 6) + (n.is_seed[i] ? 4 : 0));
      symbol.push(n.verdict[i] === "vetoed" ? "x" : n.is_seed[i] ? "diamond" : "circle");
      opacity.push(!hit || hit.has(n.id[i]) ? 0.95 : 0.12);
    }
    return { type: "scattergl", mode: "markers", x: n.x, y: n.generation, text: hover, customdata: n.slug,
      hovertemplate: "%{text}<extra></extra>", showlegend: false,
      marker: { color, size, symbol, opacity, line: { width: 0.5, color: "rgba(40,40,40,0.5)" } } };
  }

  function labelTrace() {
    // Names next to the highlighted designs, when few enough to read; with no filter, the seeds'
    // names, so the roots of the tree can be told apart.
    const seeds = n.id.filter((_, i) => n.is_seed[i]);
    const ids = matches ? (matches.length <= 40 ? matches : []) : (seeds.length <= 40 ? seeds : []);
    const idx = ids.map((id) => indexOf.get(id)).filter((i) => i !== undefined);
    // Seed names sit above their marker (the WebGL markers are drawn over the text layer).
    const lift = matches ? 0 : 0.3;
    return { type: "scatter", mode: "text", x: idx.map((i) => n.x[i]), y: idx.map((i) => n.generation[i] - lift),
      text: idx.map((i) => n.name[i]), textposition: matches ? "middle right" : "middle center", hoverinfo: "skip", showlegend: false,
      textfont: { size: 11, color: "#1d232a" } };
  }

  function focusTrace() {
    const i = focus === null ? undefined : indexOf.get(focus);
    return { type: "scatter", mode: "markers", hoverinfo: "skip", showlegend: false,
      x: i === undefined ? [] : [n.x[i]], y: i === undefined ? [] : [n.generation[i]],
      marker: { size: 26, color: "rgba(0,0,0,0)", line: { width: 2.5, color: "#e03a3a" } } };
  }

  function legend(mode) {
    const box = document.getElementById("legend");
    if (!box) return;
    let html = "";
    if (mode === "fitness") {
      html = '<span><span class="dot" style="background:' + viridis(0) + '"></span>' + (clipped ? "≤ " : "") + fmt(fit.length ? fmin : null) +
        '</span><span style="display:inline-block;width:120px;height:10px;border-radius:5px;background:linear-gradient(90deg,' +
        [0, 0.25, 0.5, 0.75, 1].map(viridis).join(",") + ')"></span><span><span class="dot" style="background:' +
        viridis(1) + '"></span>' + (clipped ? "≥ " : "") + fmt(fit.length ? fmax : null) + ' fitness</span><span><span class="dot" style="background:' +
        NO_FITNESS + '"></span>not verified</span>';
    } else {
      const table = mode === "status" ? STATUS_COLORS : ORIGIN_COLORS;
      html = Object.entries(table).map(([k, c]) => '<span><span class="dot" style="background:' + c + '"></span>' + k + "</span>").join("");
    }
    box.innerHTML = html;
  }

  const layout = {
    margin: { l: 56, r: 16, t: 12, b: 28 }, dragmode: "pan", hovermode: "closest", uirevision: "keep",
    plot_bgcolor: "#fff", paper_bgcolor: "#fff",
    xaxis: { showgrid: false, zeroline: false, showticklabels: false },
    yaxis: { title: { text: "generation" }, range: [maxGen + 0.6, -0.6], zeroline: false, gridcolor: "#eef1f4", dtick: 1 },
  };
  const config = { scrollZoom: true, displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  function draw() {
    const mode = colorBy ? colorBy.value : "fitness";
    Plotly.react(el, [edgeTrace(), nodeTrace(mode), labelTrace(), focusTrace()], layout, config);
    legend(mode);
    el.dataset.ready = "1";
    el.dataset.highlighted = matches ? String(matches.length) : "all";
  }

  draw();
  el.on("plotly_click", (ev) => {
    const p = ev.points && ev.points[0];
    if (p && p.curveNumber === 1) window.location.href = "/designs/" + n.slug[p.pointIndex] + "/";
  });
  if (colorBy) colorBy.addEventListener("change", draw);
  const reset = document.getElementById("reset-view");
  if (reset) reset.addEventListener("click", () => Plotly.relayout(el, { "xaxis.autorange": true, "yaxis.range": [maxGen + 0.6, -0.6] }));

  document.body.addEventListener("htmx:afterSwap", () => {
    const list = document.getElementById("result-list");
    if (!list) return;
    const ids = list.dataset.ids;
    matches = ids === "all" ? null : ids ? ids.split(",").map(Number) : [];
    draw();
  });
  document.addEventListener("mouseover", (ev) => {
    const a = ev.target.closest && ev.target.closest("[data-design-id]");
    const id = a ? Number(a.dataset.designId) : null;
    if (id !== focus) { focus = id; Plotly.restyle(el, { x: [focusTrace().x], y: [focusTrace().y] }, [3]); }
  });
})();
