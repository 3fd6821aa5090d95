"""Map line numbers of the composed module back to units and to lines of each unit's own code.

Tracebacks and audit events from the sandbox name lines of the composed source; the designer
agent and the researcher think in units. The composer copies unit bodies verbatim between
`# ---- unit: NAME` markers, so each region is aligned with its unit's code by matching lines in
order, which keeps working if the composer's layout changes.
"""

from __future__ import annotations

import re

from ..gau.tree import GAUTree

_MARKER = re.compile(r"^# ---- unit: (\w+) ")
_OTHER_SECTION = re.compile(r"^# ---- ")


class SourceMap:
    def __init__(self, composed: str, tree: GAUTree):
        self.lines: dict[int, tuple[str, int | None]] = {}
        self.regions: dict[str, tuple[int, int]] = {}
        composed_lines = composed.splitlines()
        current: str | None = None
        start = 0
        for number, text in enumerate(composed_lines, start=1):
            match = _MARKER.match(text)
            if match or _OTHER_SECTION.match(text):
                if current is not None:
                    self.regions[current] = (start, number - 1)
                current = match.group(1) if match else None
                start = number + 1
        if current is not None:
            self.regions[current] = (start, len(composed_lines))
        for unit, (first, last) in self.regions.items():
            node = tree.units.get(unit)
            unit_lines = node.code.splitlines() if node else []
            cursor = 0
            for number in range(first, last + 1):
                text = composed_lines[number - 1]
                found = None
                if text.strip():
                    for k in range(cursor, len(unit_lines)):
                        if unit_lines[k] == text:
                            found = k + 1
                            cursor = k + 1
                            break
                self.lines[number] = (unit, found)

    def locate(self, composed_line: int | None) -> tuple[str | None, int | None]:
        """(unit, line in that unit's code) of a composed line; (None, None) outside the units."""
        if composed_line is None:
            return None, None
        return self.lines.get(composed_line, (None, None))

    def innermost(self, frames: list[list]) -> tuple[str | None, int | None]:
        """The unit and line of the deepest frame that lies in a unit (frames: [[line, func], ...])."""
        for line, _func in reversed(frames):
            unit, unit_line = self.locate(line)
            if unit is not None:
                return unit, unit_line
        return None, None
