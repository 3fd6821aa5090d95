/* The leaderboard, live: when a verification finishes (or fails, or a verdict changes a row's badge),
   the board re-reads itself from the server with the filters as the reader set them, and the rows that
   arrived or moved up are marked for a moment. The server renders the table (one template); this
   only decides when, and what changed. */
(function () {
  "use strict";
  const live = window.GenesysLive;
  const board = document.getElementById("board");
  const form = document.querySelector("form.filters");
  if (!live || !board) return;

  function positions() {
    const out = {};
    board.querySelectorAll("tr[data-design]").forEach((tr, i) => { out[tr.dataset.design] = i; });
    return out;
  }

  function query() {
    const params = new URLSearchParams(location.search);
    if (form) new FormData(form).forEach((value, key) => { if (value !== "") params.set(key, value); else params.delete(key); });
    return params;
  }

  const refresh = live.throttle(async () => {
    const r = await fetch(board.dataset.url + "?" + query().toString(),
      { credentials: "same-origin", headers: { "HX-Request": "true" } });
    if (!r.ok) return;
    const before = positions();
    board.innerHTML = await r.text();
    board.querySelectorAll("tr[data-design]").forEach((tr, i) => {
      const was = before[tr.dataset.design];
      const change = was === undefined ? "arrived" : i < was ? "rose" : "";
      if (!change) return;
      tr.classList.add("live-" + change);
      tr.dataset.change = change;
      setTimeout(() => tr.classList.remove("live-" + change), 4000);
    });
    board.dataset.liveUpdates = String(Number(board.dataset.liveUpdates || 0) + 1);
  }, 1500);

  live.on("verification.", (e) => {
    if (e.kind === "verification.done" || e.kind === "verification.failed") refresh();
  });
  live.on("design.", (e) => { if (e.kind === "design.approved" || e.kind === "design.vetoed") refresh(); });
})();
