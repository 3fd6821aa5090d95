"""Optional LLM reranking of the fused candidates.

The reranker needs only `complete(prompt) -> text`, so any provider (the designer's, the SDK adapters in
`llm.py`, a local server) can drive it. A failing call or an unreadable answer leaves the fused order as
it was: search must keep working when the provider does not.

Each rerank is one paid LLM call, so the web asks a `RerankBudget` first: only signed-in users rerank,
and each of them at most so many times per window (the rest get the fused order, which is free).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

from .prompts import render
from .records import Hit

Complete = Callable[[str], str]

log = logging.getLogger(__name__)

PASSAGE_CHARS = 700


def rerank_prompt(query: str, hits: list[Hit]) -> str:
    passages = []
    for number, hit in enumerate(hits, start=1):
        text = " ".join(hit.text.split())[:PASSAGE_CHARS]
        where = f", {hit.section}" if hit.section else ""
        passages.append(f"[{number}] ({hit.title}{where})\n{text}")
    return render("rerank", query=query, passages="\n\n".join(passages))


def parse_ranking(reply: str, count: int) -> list[int] | None:
    """Zero-based positions in the order the model gave; None if the reply holds no usable ranking."""
    match = re.search(r"\{.*\}", reply, re.DOTALL)
    numbers = None
    if match:
        try:
            numbers = json.loads(match.group(0)).get("ranking")
        except (json.JSONDecodeError, AttributeError):
            numbers = None
    if numbers is None:
        array = re.search(r"\[[\d,\s]+\]", reply)
        numbers = json.loads(array.group(0)) if array else None
    if not isinstance(numbers, list):
        return None
    order: list[int] = []
    for number in numbers:
        if isinstance(number, int) and 1 <= number <= count and number - 1 not in order:
            order.append(number - 1)
    if not order:
        return None
    # Passages the model left out keep their fused order, after the ones it ranked.
    return order + [i for i in range(count) if i not in order]


class LLMReranker:
    def __init__(self, complete: Complete, depth: int = 20) -> None:
        self.complete = complete
        self.depth = depth

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        head, tail = hits[: self.depth], hits[self.depth :]
        if len(head) < 2:
            return hits
        try:
            reply = self.complete(rerank_prompt(query, head))
        except Exception as error:  # any provider failure: keep the fused order
            log.warning("reranker call failed, keeping fused order: %s", error)
            return hits
        order = parse_ranking(reply, len(head))
        if order is None:
            log.warning("reranker reply held no ranking, keeping fused order: %.200s", reply)
            return hits
        reranked = [head[i] for i in order]
        for position, hit in enumerate(reranked, start=1):
            hit.ranks["llm"] = position
        return reranked + tail


class RerankBudget:
    """At most `calls` reranker calls per `window_s` seconds for each key (a user id), in this process.

    `spend(key)` takes one call from the key's budget and says whether there was one. `calls` <= 0
    turns reranking off for everyone.
    """

    def __init__(self, calls: int, window_s: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.calls, self.window_s, self.clock = calls, window_s, clock
        self._spent: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def spend(self, key: Hashable) -> bool:
        if self.calls <= 0:
            return False
        now = self.clock()
        with self._lock:
            times = self._spent.setdefault(key, deque())
            while times and now - times[0] >= self.window_s:
                times.popleft()
            if len(times) >= self.calls:
                return False
            times.append(now)
            return True

    def left(self, key: Hashable) -> int:
        now = self.clock()
        with self._lock:
            times = self._spent.get(key, deque())
            return max(0, self.calls - sum(1 for t in times if now - t < self.window_s))
