/* An upload that could not be read (or was rejected): "go to line N" puts the cursor on that line of
   the edit form's text, selected, scrolled into view, so the fix starts where the error is. */
(function () {
  "use strict";
  const form = document.getElementById("recheck-form");
  if (!form) return;
  const area = form.elements.text;

  function gotoLine(n) {
    const lines = area.value.split("\n");
    const line = Math.max(1, Math.min(n, lines.length));
    const start = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0);
    area.focus({ preventScroll: true });
    area.setSelectionRange(start, start + lines[line - 1].length);
    const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (line - 3) * lineHeight);
    area.scrollIntoView({ block: "center", behavior: "instant" });
    area.dataset.line = String(line);
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest && ev.target.closest("[data-goto-line]");
    if (b) { ev.preventDefault(); gotoLine(Number(b.dataset.gotoLine)); }
  });
  // A line number of the text above also jumps there.
  document.querySelectorAll("#upload-source td.ln").forEach((td) => {
    td.title = "edit this line";
    td.style.cursor = "pointer";
    td.addEventListener("click", () => gotoLine(Number(td.textContent)));
  });
})();
