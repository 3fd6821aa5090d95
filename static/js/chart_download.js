// Every Plotly chart gets PNG and SVG download buttons (Plotly.downloadImage renders in the browser:
// no server, no CDN). Charts drawn later (htmx panels, live updates) are found by a MutationObserver.
(function () {
  "use strict";
  function filename(el) {
    const label = el.getAttribute("aria-label") || el.id || "chart";
    return label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "chart";
  }
  function addButtons(el) {
    if (el.dataset.downloads || typeof Plotly === "undefined") return;
    el.dataset.downloads = "1";
    const bar = document.createElement("div");
    bar.className = "chart-downloads small";
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "download the chart");
    for (const format of ["png", "svg"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.dataset.format = format;
      button.textContent = format.toUpperCase();
      button.title = `download this chart as ${format.toUpperCase()}`;
      button.addEventListener("click", () => {
        const box = el.getBoundingClientRect();
        Plotly.downloadImage(el, { format, filename: filename(el), width: Math.max(600, Math.round(box.width)),
          height: Math.max(300, Math.round(box.height)) });
      });
      bar.appendChild(button);
    }
    el.insertAdjacentElement("afterend", bar);
  }
  function scan() { document.querySelectorAll(".js-plotly-plot").forEach(addButtons); }
  function start() {
    scan();
    new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
