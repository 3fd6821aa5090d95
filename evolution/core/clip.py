"""Shorten a text for one line of a feed or a table without cutting a word in half.

`text[:n]` cut "the checker found errors in Mamba2Lay" mid-word; `clip` stops at the last word that
fits and says that it stopped ("…"). A single word longer than the limit (a path, a hash) is cut,
since there is no boundary to stop at.
"""

from __future__ import annotations

ELLIPSIS = "…"


def clip(text: object, limit: int) -> str:
    """`text` as one line of at most `limit` characters (the ellipsis included), ending on a word."""
    s = " ".join(str(text if text is not None else "").split())
    if limit <= 0:
        return ""
    if len(s) <= limit:
        return s
    room = s[: max(0, limit - len(ELLIPSIS))]
    cut = room.rfind(" ")
    if s[len(room)] == " ":  # the limit falls on a boundary: keep the whole last word
        cut = len(room)
    head = room[:cut] if cut > 0 else room
    return head.rstrip(" ,;:.-") + ELLIPSIS
