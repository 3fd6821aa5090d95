/* The top bar on narrow screens: the links and the account fold behind a "Menu" button.

   Without this script the button stays hidden and the links simply wrap. With it, CSS hides the menu
   below the breakpoint until the button opens it; aria-expanded tells assistive technology its state,
   Escape closes it and gives focus back to the button. */
(function () {
  "use strict";
  function init() {
    const bar = document.querySelector(".topbar");
    const button = bar && bar.querySelector(".nav-toggle");
    const menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;
    function set(open) {
      bar.classList.toggle("open", open);
      button.setAttribute("aria-expanded", String(open));
    }
    button.hidden = false;
    bar.classList.add("has-toggle");
    button.addEventListener("click", () => set(button.getAttribute("aria-expanded") !== "true"));
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && bar.classList.contains("open")) { set(false); button.focus(); }
    });
    document.addEventListener("click", (ev) => {
      if (bar.classList.contains("open") && !bar.contains(ev.target)) set(false);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
