/* The live event stream: one reconnecting websocket per page.

   It remembers the id of the last event it saw; after a drop it reconnects with backoff and asks for
   /ws/events/?after=<that id>, so the server replays what was missed before streaming again. Events
   are deduplicated by id and handed to the handlers pages register with GenesysLive.on(pattern, fn):
   pattern is a kind ("verification.done"), a prefix ending in "." ("job."), or "*".

   The page says where to start with an element #live-status carrying data-after (the newest event id
   when the page was rendered) and, on a design page, data-design (only that design's events). The
   same element shows the connection's state to the reader. */
(function () {
  "use strict";
  const handlers = [];
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const KEEPALIVE_MS = 25000;
  let ws = null;
  let lastId = 0;
  let design = null;
  let backoff = BACKOFF_MIN_MS;
  let retryTimer = null;
  let keepalive = null;
  let gaveUp = false;
  let statusEl = null;
  let received = 0;

  function on(pattern, fn) { handlers.push([pattern, fn]); }

  function matches(pattern, kind) {
    if (pattern === "*" || pattern === kind) return true;
    return pattern.endsWith(".") && kind.startsWith(pattern);
  }

  function setState(state, text, title) {
    if (!statusEl) return;
    statusEl.dataset.state = state;
    statusEl.textContent = text;
    statusEl.title = title || "";
  }

  function dispatch(event) {
    if (typeof event.id !== "number" || event.id <= lastId) return; // replayed twice, or out of date
    lastId = event.id;
    received += 1;
    if (statusEl) { statusEl.dataset.lastId = String(lastId); statusEl.dataset.received = String(received); }
    for (const [pattern, fn] of handlers) {
      if (!matches(pattern, event.kind)) continue;
      try { fn(event); } catch (err) { console.error("live handler for " + event.kind + " failed", err); }
    }
  }

  function url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let q = "?after=" + lastId;
    if (design) q += "&design=" + design;
    return scheme + "//" + location.host + "/ws/events/" + q;
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (gaveUp || (ws && ws.readyState <= 1)) return;
    setState("connecting", "connecting…");
    let socket;
    try { socket = new WebSocket(url()); } catch (err) { scheduleRetry(); return; }
    ws = socket;
    socket.onopen = () => {
      backoff = BACKOFF_MIN_MS;
      setState("live", "live", "Receiving events as they happen (after event #" + lastId + ")");
      clearInterval(keepalive);
      // Also a resync: the server replays anything after our last id that it has not sent us.
      keepalive = setInterval(() => { if (socket.readyState === 1) socket.send(JSON.stringify({ after: lastId })); },
        KEEPALIVE_MS);
    };
    socket.onmessage = (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch (err) { return; }
      dispatch(event);
    };
    socket.onclose = (ev) => {
      clearInterval(keepalive);
      if (ws !== socket) return;
      ws = null;
      if (ev.code === 4401 || ev.code === 4403) {
        gaveUp = true;
        setState("refused", "not live", "The server refused the event stream: log in to see live updates");
        return;
      }
      scheduleRetry();
    };
    socket.onerror = () => { /* onclose follows and schedules the retry */ };
  }

  function scheduleRetry() {
    if (gaveUp || retryTimer) return;
    const wait = Math.round(backoff * (0.8 + 0.4 * Math.random()));
    backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    setState("reconnecting", "reconnecting…", "Connection lost; retrying in " + Math.round(wait / 1000) +
      " s, then replaying the events after #" + lastId);
    retryTimer = setTimeout(connect, wait);
  }

  function reconnectNow() {
    if (gaveUp || (ws && ws.readyState <= 1)) return;
    backoff = BACKOFF_MIN_MS;
    connect();
  }

  let started = false;
  function start() {
    if (started) return;
    started = true;
    statusEl = document.getElementById("live-status");
    if (!statusEl || !("WebSocket" in window)) return;
    lastId = Number(statusEl.dataset.after || 0);
    design = statusEl.dataset.design ? Number(statusEl.dataset.design) : null;
    connect();
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) reconnectNow(); });
  }

  /* Call fn at most once every `ms`, and always once more after the last call: a burst of events
     becomes one refresh now and one when the burst ends, never a refresh that misses the last event. */
  function throttle(fn, ms) {
    let last = 0;
    let timer = null;
    return function () {
      const wait = last + ms - Date.now();
      if (wait <= 0 && !timer) { last = Date.now(); fn(); return; }
      if (!timer) timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, Math.max(wait, 0));
    };
  }

  /* "12 s", "4 min", "2.5 h": for ages that tick on the page (elements with data-since). */
  function age(seconds) {
    const s = Math.max(0, seconds);
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function tickAges() {
    const now = Date.now();
    document.querySelectorAll("[data-since]").forEach((el) => {
      const t = Date.parse(el.dataset.since);
      if (!isNaN(t)) el.textContent = age((now - t) / 1000) + (el.dataset.suffix || "");
    });
  }
  setInterval(tickAges, 1000);

  window.GenesysLive = {
    on, throttle, age,
    get lastId() { return lastId; },
    get connected() { return !!ws && ws.readyState === 1; },
    reconnect: reconnectNow,
  };
  // Start once every deferred script has run (and registered its handlers).
  if (document.readyState === "complete") start();
  else { document.addEventListener("DOMContentLoaded", start); window.addEventListener("load", start); }
})();
