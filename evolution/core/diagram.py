"""Lay out a GAU tree as a top-down diagram (boxes and connectors) for a server-rendered SVG.

A unit used by two parents is drawn under each of them, as the composed code instantiates it
twice; declared but unimplemented units are drawn dashed. The drawing is capped so that a
pathological tree cannot produce a huge page.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.core.gau.tree import GAUTree

CHAR_W, PAD, BOX_H, GAP_X, GAP_Y = 7.2, 18, 28, 14, 56
MAX_BOXES = 150


@dataclass
class Box:
    name: str
    x: float  # centre
    y: float  # top
    w: float
    state: str  # "same" | "added" | "changed" | "removed" | "declared" | "root"
    depth: int

    @property
    def left(self) -> float:
        return round(self.x - self.w / 2, 1)

    @property
    def mid_y(self) -> float:
        return self.y + BOX_H / 2


def unit_diagram(tree: GAUTree, states: dict[str, str] | None = None) -> dict:
    """{"boxes": [...], "links": [SVG path data], "width": w, "height": h, "box_h": h}."""
    states = states or {}
    boxes: list[Box] = []
    links: list[tuple[float, float, float, float]] = []
    cursor = [0.0]

    def width(name: str) -> float:
        return max(60.0, len(name) * CHAR_W + PAD)

    def place(name: str, depth: int, path: tuple[str, ...]) -> Box:
        start, first_box, first_link = cursor[0], len(boxes), len(links)
        node = tree.units.get(name)
        children = [] if node is None or name in path or len(boxes) >= MAX_BOXES else list(dict.fromkeys(node.children))
        placed = [place(c, depth + 1, path + (name,)) for c in children]
        w = width(name)
        if placed:
            x = (placed[0].x + placed[-1].x) / 2
            if x - w / 2 < start:  # a parent wider than its children: move the whole subtree right
                shift = start - (x - w / 2)
                for b in boxes[first_box:]:
                    b.x += shift
                links[first_link:] = [(x1 + shift, y1, x2 + shift, y2) for x1, y1, x2, y2 in links[first_link:]]
                x += shift
            cursor[0] = max(cursor[0], x + w / 2 + GAP_X)
        else:
            x = cursor[0] + w / 2
            cursor[0] += w + GAP_X
        state = states.get(name) or ("declared" if node is None else ("root" if name == tree.root else "same"))
        box = Box(name, x, depth * GAP_Y, w, state, depth)
        boxes.append(box)
        for child in placed:
            links.append((x, box.y + BOX_H, child.x, child.y))
        return box

    place(tree.root, 0, ())
    depth = max((b.depth for b in boxes), default=0)
    left = min((b.x - b.w / 2 for b in boxes), default=0.0)
    for b in boxes:
        b.x -= left - 2
    links = [(x1 - left + 2, y1, x2 - left + 2, y2) for x1, y1, x2, y2 in links]
    right = max((b.x + b.w / 2 for b in boxes), default=0.0)
    paths = [f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + 16:.1f} {x2:.1f},{y2 - 16:.1f} {x2:.1f},{y2:.1f}"
             for x1, y1, x2, y2 in links]
    return {
        "boxes": sorted(boxes, key=lambda b: (b.depth, b.x)),
        "links": paths,
        "width": round(right + 4, 1),
        "height": depth * GAP_Y + BOX_H + 4,
        "box_h": BOX_H,
    }
