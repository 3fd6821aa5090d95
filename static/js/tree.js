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
      size.push(markerSize(i));
      symbol.push(n.verdict[i] === "vetoed" ? "x" : n.is_seed[i] ? "diamond" : "circle");
      opacity.push(!hit || hit.has(n.id[i]) ? 0.95 : 0.12);
    }
    return { type: "scattergl", mode: "markers", x: n.x, y: n.generation, text: hover, customdata: n.slug,
      hovertemplate: "%{text}<extra></extra>", showlegend: false,
      marker: { color, size, symbol, opacity, line: { width: 0.5, color: "rgba(40,40,40,0.5)" } } };
  }

  // ---- labels: names next to markers, placed in pixels so none hides under a marker or another name
  const LABEL_FONT_PX = 11;
  const LABEL_FONT = LABEL_FONT_PX + "px 'Open Sans', verdana, arial, sans-serif";
  const LABEL_GAP = 3; // px between a marker's edge and its name
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = LABEL_FONT;
  let labels = { x: [], y: [], text: [] };

  function markerSize(i) { return 7 + 3.5 * Math.min(n.confidence[i], 6) + (n.is_seed[i] ? 4 : 0); }

  /* Which designs get a name: the highlighted ones when few enough to read (best fitness first, so the
     best keep theirs when space runs out); with no filter, the seeds, so the roots can be told apart. */
  function labelCandidates() {
    const seeds = n.id.filter((_, i) => n.is_seed[i]);
    const ids = matches ? (matches.length <= 40 ? matches : []) : (seeds.length <= 40 ? seeds : []);
    const idx = ids.map((id) => indexOf.get(id)).filter((i) => i !== undefined);
    const f = (i) => (n.fitness[i] === null ? -Infinity : n.fitness[i]);
    return idx.sort((a, b) => f(b) - f(a) || n.x[a] - n.x[b]);
  }

  /* Greedy placement in screen pixels: for each name, the first side of its marker (above for seeds,
     else right, left, above, below) where the text stays inside the plot and overlaps no opaque marker
     and no name already placed; a name with no free side is left out (hover and the list still have it).
     The text trace is then drawn at the centres found, converted back to data coordinates. */
  function placeLabels() {
    const full = el._fullLayout;
    const out = { x: [], y: [], text: [], hidden: 0 };
    if (!full || !full.xaxis || !full.yaxis || !full._size) return out;
    const sz = full._size;
    const [x0, x1] = full.xaxis.range;
    const [y0, y1] = full.yaxis.range;
    if (x1 === x0 || y1 === y0) return out;
    const px = (x) => sz.l + ((x - x0) / (x1 - x0)) * sz.w;
    const py = (y) => sz.t + (1 - (y - y0) / (y1 - y0)) * sz.h;
    const hit = matches ? new Set(matches) : null;
    const boxes = []; // opaque markers, then the names placed
    for (let i = 0; i < count; i++) {
      if (hit && !hit.has(n.id[i])) continue; // faded markers do not hide text
      const cx = px(n.x[i]);
      const cy = py(n.generation[i]);
      if (cx < sz.l - 20 || cx > sz.l + sz.w + 20 || cy < sz.t - 20 || cy > sz.t + sz.h + 20) continue;
      const r = markerSize(i) / 2;
      boxes.push([cx - r, cy - r, cx + r, cy + r]);
    }
    const overlaps = (b) => boxes.some((o) => b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1]);
    const inside = (b) => b[0] >= sz.l && b[2] <= sz.l + sz.w && b[1] >= sz.t && b[3] <= sz.t + sz.h;
    const h = LABEL_FONT_PX + 3;
    labelCandidates().forEach((i) => {
      const cx = px(n.x[i]);
      const cy = py(n.generation[i]);
      if (cx < sz.l || cx > sz.l + sz.w || cy < sz.t || cy > sz.t + sz.h) return; // zoomed out of view
      const r = markerSize(i) / 2 + LABEL_GAP;
      const w = measure.measureText(n.name[i]).width + 2;
      const sides = {
        above: [cx - w / 2, cy - r - h, cx + w / 2, cy - r],
        below: [cx - w / 2, cy + r, cx + w / 2, cy + r + h],
        right: [cx + r, cy - h / 2, cx + r + w, cy + h / 2],
        left: [cx - r - w, cy - h / 2, cx - r, cy + h / 2],
      };
      const order = matches ? ["right", "left", "above", "below"] : ["above", "right", "left", "below"];
      const side = order.find((k) => inside(sides[k]) && !overlaps(sides[k]));
      if (!side) { out.hidden += 1; return; }
      const b = sides[side];
      boxes.push(b);
      // back to data coordinates: the centre of the box, drawn "middle center"
      out.x.push(x0 + (((b[0] + b[2]) / 2 - sz.l) / sz.w) * (x1 - x0));
      out.y.push(y0 + (1 - ((b[1] + b[3]) / 2 - sz.t) / sz.h) * (y1 - y0));
      out.text.push(n.name[i]);
    });
    return out;
  }

  function labelTrace() {
    return { type: "scatter", mode: "text", x: labels.x, y: labels.y, text: labels.text, textposition: "middle center",
      hoverinfo: "skip", showlegend: false, cliponaxis: false, textfont: { size: LABEL_FONT_PX, color: "#1d232a" } };
  }

  function relabel() {
    labels = placeLabels();
    el.dataset.labels = String(labels.text.length);
    el.dataset.labelsHidden = String(labels.hidden || 0);
    const box = document.getElementById("legend");
    let note = box && box.querySelector(".label-note");
    if (box && !note) { note = document.createElement("span"); note.className = "label-note faint"; box.append(note); }
    if (note) note.textContent = labels.hidden ? labels.hidden + " name" + (labels.hidden === 1 ? "" : "s") + " left out for space: zoom in to read them" : "";
    return Plotly.restyle(el, { x: [labels.x], y: [labels.y], text: [labels.text] }, [2]);
  }

  function focusTrace() {
    const i = focus === null ? undefined : indexOf.get(focus);
    return { type: "scatter", mode: "markers", hoverinfo: "skip", showlegend: false,
      x: i === undefined ? [] : [n.x[i]], y: i === undefined ? [] : [n.generation[i]],
      marker: { size: 26, color: "rgba(0,0,0,0)", line: { width: 2.5, color: "#e03a3a" } } };
  }

  const dot = (color) => '<span class="dot" style="background:' + color + '"></span>';
  function legend(mode) {
    const box = document.getElementById("legend");
    if (!box) return;
    let html = "";
    if (mode === "fitness") {
      const none = "<span>" + dot(NO_FITNESS) + "not verified</span>";
      if (!fit.length) {
        html = '<span class="faint">no verified design yet</span>' + none;
      } else if (fmax <= fmin) {
        // one verified design, or all alike: one colour, one value, no scale to read
        const label = fit.length === 1 ? "the one verified design" : "all " + fit.length + " verified designs";
        html = "<span>" + dot(viridis(0.5)) +
          "fitness " + fmt(fmin) + " (" + label + ")</span>" + none;
      } else {
        html = "<span>" + dot(viridis(0)) + (clipped ? "≤ " : "") + fmt(fmin) + "</span>" +
          '<span class="ramp" style="background:linear-gradient(90deg,' + [0, 0.25, 0.5, 0.75, 1].map(viridis).join(",") + ')"></span>' +
          "<span>" + dot(viridis(1)) + (clipped ? "≥ " : "") + fmt(fmax) + " fitness</span>" + none;
      }
    } else {
      const table = mode === "status" ? STATUS_COLORS : ORIGIN_COLORS;
      html = Object.entries(table).map(([k, c]) => "<span>" + dot(c) + k + "</span>").join("");
    }
    box.innerHTML = html;
  }

  /* The y range: generations downwards, with room above generation 0 for the seeds' names however
     many generations there are (a fixed fraction of a generation is a few pixels in a deep tree). */
  function yRange() {
    const seedSize = Math.max(0, ...n.id.map((_, i) => (n.is_seed[i] ? markerSize(i) : 0)));
    const room = seedSize / 2 + LABEL_GAP + LABEL_FONT_PX + 8; // px above the seeds' centres
    const plot = Math.max(160, (el.clientHeight || 480) - layout.margin.t - layout.margin.b);
    const span = maxGen + 0.6;
    return [span, -Math.max(0.6, (room * span) / (plot - room))];
  }

  const layout = {
    margin: { l: 56, r: 16, t: 12, b: 28 }, dragmode: "pan", hovermode: "closest", uirevision: "keep",
    plot_bgcolor: "#fff", paper_bgcolor: "#fff",
    xaxis: { showgrid: false, zeroline: false, showticklabels: false },
    yaxis: { title: { text: "generation" }, zeroline: false, gridcolor: "#eef1f4", dtick: 1 },
  };
  layout.yaxis.range = yRange();
  const config = { scrollZoom: true, displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  function draw() {
    const mode = colorBy ? colorBy.value : "fitness";
    legend(mode);
    el.dataset.highlighted = matches ? String(matches.length) : "all";
    return Promise.resolve(Plotly.react(el, [edgeTrace(), nodeTrace(mode), labelTrace(), focusTrace()], layout, config))
      .then(relabel)
      .then(() => { el.dataset.ready = "1"; });
  }

  draw();
  el.on("plotly_click", (ev) => {
    const p = ev.points && ev.points[0];
    if (p && p.curveNumber === 1) window.location.href = "/designs/" + n.slug[p.pointIndex] + "/";
  });
  // Zooming, panning and resizing move the markers on screen: place the names again.
  el.on("plotly_relayout", (ev) => { if (!ev || !("annotations" in ev)) relabel(); });
  if (colorBy) colorBy.addEventListener("change", draw);
  const reset = document.getElementById("reset-view");
  if (reset) reset.addEventListener("click", () => Plotly.relayout(el, { "xaxis.autorange": true, "yaxis.range": yRange() }));

  /* A live refresh (live_pages.js) runs this script again on the new graph: the list of matches in the
     side panel is re-read too, so its count and rows follow the designs highlighted in the plot. */
  const form = document.getElementById("tree-filters");
  if (el.dataset.mounted && matches !== null && form && window.htmx && document.getElementById("result-list")) {
    htmx.ajax("GET", form.getAttribute("hx-get") + location.search, { target: "#results", swap: "innerHTML" });
  }
  el.dataset.mounted = "1";

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
