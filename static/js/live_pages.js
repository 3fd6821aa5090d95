/* Live hooks of the tree and design pages (the dashboard has its own script).

   Both pages draw from data the server rendered into the page (tree.js, design.js). When an event says
   that data changed, the hook fetches it again (tree/graph.json; the design page itself) and runs the
   page's script once more on the fresh data, so the drawing code stays in one place. The script is
   loaded through mountScript, which remembers the listeners it adds to the document and removes them
   before the next run: nothing piles up however long the page stays open.

   Loaded as <script src=live_pages.js data-page="tree|design" data-script="<the page script>" defer>. */
(function () {
  "use strict";
  const me = document.currentScript;
  const live = window.GenesysLive;
  if (!me || !live) return;
  const pageKind = me.dataset.page;
  const src = me.dataset.script;

  function inPlot(target) {
    return target instanceof Element && !!target.closest(".js-plotly-plot");
  }

  /* Run a page script, and run it again on demand, without leaving its old listeners behind. Plotly's
     own listeners (on the plot and on window) are left to Plotly.purge. */
  function mountScript(url) {
    let code = "";
    let added = [];
    const original = EventTarget.prototype.addEventListener;
    function run() {
      added.forEach(([target, type, fn, opts]) => target.removeEventListener(type, fn, opts));
      added = [];
      EventTarget.prototype.addEventListener = function (type, fn, opts) {
        if (this !== window && !inPlot(this)) added.push([this, type, fn, opts]);
        return original.call(this, type, fn, opts);
      };
      try {
        const s = document.createElement("script");
        s.text = code + "\n//# sourceURL=" + url;
        document.body.appendChild(s); // an inline script runs here, synchronously
        s.remove();
      } finally {
        EventTarget.prototype.addEventListener = original;
      }
    }
    const ready = fetch(url, { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(url + ": HTTP " + r.status); return r.text(); })
      .then((text) => { code = text; run(); });
    return { ready, remount: () => ready.then(run) };
  }

  function purgePlots(root) {
    if (!root || !window.Plotly) return;
    if (root.classList && root.classList.contains("js-plotly-plot")) Plotly.purge(root);
    root.querySelectorAll(".js-plotly-plot").forEach((el) => Plotly.purge(el));
  }

  // ---- the tree: new designs appear, changed ones are recoloured ---------------------------------
  function treePage() {
    const el = document.getElementById("lineage");
    const mount = mountScript(src);
    const graphUrl = me.dataset.graph;
    let view = null; // the zoomed ranges, if the reader zoomed or panned
    let updates = 0;
    let dragging = false; // never redraw under a reader's pan or zoom: wait for the button's release
    let pending = false;
    el.addEventListener("pointerdown", () => { dragging = true; });
    window.addEventListener("pointerup", () => {
      dragging = false;
      if (pending) { pending = false; refresh(); }
    });

    function watchView() {
      if (!el.on) return;
      el.on("plotly_relayout", (ev) => {
        if (ev["xaxis.autorange"]) view = null;
        else if ("xaxis.range[0]" in ev || "xaxis.range" in ev || "yaxis.range[0]" in ev) {
          view = { x: el.layout.xaxis.range.slice(), y: el.layout.yaxis.range.slice() };
        }
      });
    }
    mount.ready.then(watchView);

    function summarise(graph) {
      const count = document.getElementById("tree-count");
      if (count) count.textContent = graph.count + " design" + (graph.count === 1 ? "" : "s");
      const box = document.getElementById("tree-status-counts");
      if (!box) return;
      const order = (box.dataset.order || "").split(",");
      const tally = {};
      graph.nodes.status.forEach((s) => { tally[s] = (tally[s] || 0) + 1; });
      box.innerHTML = "";
      order.forEach((s) => {
        if (!tally[s]) return;
        const b = document.createElement("span");
        b.className = "badge status-" + s;
        b.textContent = tally[s] + " " + s;
        box.append(b, " ");
      });
    }

    const refresh = live.throttle(async () => {
      if (dragging) { pending = true; return; }
      const r = await fetch(graphUrl + location.search, { credentials: "same-origin" });
      if (!r.ok) return;
      const data = await r.json();
      const matches = data.matches === undefined ? null : data.matches;
      delete data.matches;
      await mount.ready;
      document.getElementById("graph-data").textContent = JSON.stringify(data);
      document.getElementById("match-data").textContent = JSON.stringify(matches);
      if (dragging) { pending = true; return; }
      const keep = view;
      purgePlots(el);
      await mount.remount();
      watchView();
      if (keep) Plotly.relayout(el, { "xaxis.range": keep.x, "yaxis.range": keep.y });
      summarise(data);
      el.dataset.count = String(data.count);
      el.dataset.liveUpdates = String(++updates);
    }, 2000);

    live.on("design.", refresh); // created, approved, vetoed, seeded
    live.on("verification.", (e) => { if (e.kind !== "verification.progress") refresh(); }); // status, fitness
    live.on("job.", (e) => { // a check job's end turns a design checked or invalid
      if (e.payload && e.payload.kind === "check" && (e.kind === "job.done" || e.kind === "job.failed")) refresh();
    });
  }

  // ---- the design page: its running verification's progress, and results when one finishes --------
  function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }
  function rate(v) {
    if (v === null || v === undefined) return "–";
    if (v >= 1e6) return (v / 1e6).toPrecision(3) + "M/s";
    if (v >= 1e3) return (v / 1e3).toPrecision(3) + "k/s";
    return Math.round(v) + "/s";
  }
  function eta(s) {
    if (s === null || s === undefined) return "–";
    s = Math.max(0, Math.round(s));
    if (s < 90) return s + " s";
    if (s < 3600) return Math.round(s / 60) + " min";
    return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  }

  function designPage() {
    const mount = mountScript(src);
    const SECTIONS = ["verification", "design-badges", "design-stats", "chart-data"];

    const reload = live.throttle(async () => {
      const r = await fetch(location.pathname, { credentials: "same-origin" });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      await mount.ready;
      SECTIONS.concat(decisionsIdle() ? ["decisions"] : []).forEach((id) => {
        const fresh = doc.getElementById(id);
        const old = document.getElementById(id);
        if (!fresh || !old) return;
        purgePlots(old);
        old.replaceWith(document.adoptNode(fresh));
        if (window.htmx) htmx.process(fresh);
      });
      await mount.remount();
      // A progress event heard while the page was fetched is newer than what the server rendered.
      Object.values(latest).forEach((e) => {
        const box = boxFor(e.payload.verification);
        const shown = box && Date.parse((box.querySelector("[data-field=updated]") || {}).dataset?.since || "");
        if (box && !(shown > Date.parse(e.created_at))) progress(e);
      });
      const section = document.getElementById("verification");
      if (section) section.dataset.reloads = String(Number(section.dataset.reloads || 0) + 1);
    }, 1500);

    /* The decisions panel changes too (what a promotion would do now), but not under a researcher's
       hands: not while they type in it, nor while it shows the answer to what they just did. */
    function decisionsIdle() {
      const box = document.getElementById("decisions");
      if (!box || box.contains(document.activeElement) || box.querySelector("[role=alert], [role=status]")) return false;
      return ![...box.querySelectorAll("textarea, input[type=text]")].some((f) => f.value.trim());
    }

    const latest = {}; // verification id -> its newest progress event
    function boxFor(id) { return document.querySelector('.live-progress[data-verification="' + id + '"]'); }

    function progress(e) {
      const p = e.payload || {};
      latest[p.verification] = e;
      const box = boxFor(p.verification);
      if (!box) { reload(); return; } // started after the page was rendered
      const set = (field, text) => { const el = box.querySelector('[data-field="' + field + '"]'); if (el) el.textContent = text; };
      if (p.step !== undefined) set("step", p.step + (p.total_steps ? " / " + p.total_steps : ""));
      if (p.loss !== undefined) set("loss", fmt(p.loss, 4));
      if (p.tokens_per_s !== undefined) set("tokens_per_s", rate(p.tokens_per_s));
      if (p.mfu !== undefined && p.mfu !== null) set("mfu", (100 * p.mfu).toFixed(1) + "%");
      if (p.eta_s !== undefined) set("eta", eta(p.eta_s));
      if (p.phase) { set("phase-name", p.phase); box.dataset.phase = p.phase; }
      if (p.message) set("phase", p.message);
      if (p.total) set("eval", p.done + " / " + p.total);
      if (p.tasks) {
        const list = box.querySelector('[data-field="tasks"]');
        if (list) {
          list.replaceChildren(...Object.entries(p.tasks).map(([name, counts]) => {
            const li = document.createElement("li");
            li.dataset.task = name;
            const tag = document.createElement("span");
            tag.className = "mono";
            tag.textContent = name;
            li.append(tag, " " + counts[0] + "/" + counts[1]);
            return li;
          }));
        }
      }
      const bar = box.querySelector(".bar > span");
      if (bar && p.phase === "eval" && p.total) bar.style.width = (100 * p.done / p.total).toFixed(1) + "%";
      else if (bar && p.step !== undefined && p.total_steps) bar.style.width = (100 * p.step / p.total_steps).toFixed(1) + "%";
      const elapsed = box.querySelector('[data-field="elapsed"]');
      if (elapsed && p.started_at && !elapsed.dataset.since) elapsed.dataset.since = p.started_at;
      const updated = box.querySelector('[data-field="updated"]');
      if (updated && e.created_at) updated.dataset.since = e.created_at;
      box.dataset.step = String(p.step === undefined ? "" : p.step);
    }

    live.on("verification.", (e) => {
      if (e.kind === "verification.progress") { progress(e); return; }
      if (e.kind !== "verification.running" && e.payload) delete latest[e.payload.verification];
      reload();
    });
    live.on("design.", reload); // a verdict changes the badges
    live.on("request.", reload); // a researcher's request from this parent: taken, done or failed
  }

  if (pageKind === "tree") treePage();
  else if (pageKind === "design") designPage();
})();
