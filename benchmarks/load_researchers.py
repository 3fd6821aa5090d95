"""Simulated researchers: each logs in, holds one websocket on the live event stream, and loops over
page loads and API reads with think time until told to stop. Every request's latency and outcome,
and every event id the websocket delivers, is recorded for the report."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import websockets

SEARCHES = ("state space model", "linear attention", "gated recurrence", "mixture of experts", "rotary",
            "layer normalization", "long context", "retention", "test-time training", "convolution")
REQUEST_TIMEOUT_S = 30.0
LOGIN_TIMEOUT_S = 120.0


@dataclass
class Stats:
    """Latencies (ms) per page and error counts by kind, shared by all researchers."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)  # a few error bodies, for the log

    def ok(self, page: str, ms: float) -> None:
        self.requests[page] += 1
        self.latencies[page].append(ms)

    def error(self, page: str, kind: str, ms: float | None = None, detail: str = "") -> None:
        self.requests[page] += 1
        self.errors[page][kind] += 1
        if ms is not None:
            self.latencies[page].append(ms)
        if detail and len(self.samples) < 20:
            self.samples.append(f"{page} {kind}: {detail[:300]}")


@dataclass
class Researcher:
    """One simulated browser: a session cookie, a websocket, and the event ids it was delivered."""

    index: int
    base: str
    username: str
    password: str
    stats: Stats
    think_s: tuple[float, float] = (1.0, 5.0)
    rng: random.Random = field(default_factory=random.Random)
    received: list[int] = field(default_factory=list)
    ws_errors: list[str] = field(default_factory=list)
    ws_connects: int = 0
    client: httpx.AsyncClient | None = None

    async def login(self, attempts: int = 3) -> None:
        """The login form, as a browser posts it (a password hash on the server: slow on a busy CPU)."""
        self.client = httpx.AsyncClient(base_url=self.base, timeout=REQUEST_TIMEOUT_S, follow_redirects=False)
        for _attempt in range(attempts):
            t0 = time.perf_counter()
            try:
                page = await self.client.get("/accounts/login/", timeout=LOGIN_TIMEOUT_S)
                response = await self.client.post(
                    "/accounts/login/", data={"username": self.username, "password": self.password,
                                              "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")},
                    headers={"Referer": self.base + "/accounts/login/", "Origin": self.base}, timeout=LOGIN_TIMEOUT_S,
                )
            except httpx.TimeoutException:
                self.stats.error("login", "timeout", (time.perf_counter() - t0) * 1000)
                continue
            ms = (time.perf_counter() - t0) * 1000
            if page.status_code == 200 and response.status_code == 302 and "sessionid" in self.client.cookies:
                self.stats.ok("login", ms)
                return
            self.stats.error("login", f"http {response.status_code}", ms, response.text[:300])
        raise RuntimeError(f"{self.username} could not log in in {attempts} attempts")

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    # ---- the websocket --------------------------------------------------------------------------

    async def listen(self, after: int, stop: asyncio.Event) -> None:
        """Hold one websocket from event `after` on; reconnect with the last id seen if it drops."""
        ws_url = self.base.replace("http://", "ws://") + "/ws/events/"
        headers = {"Cookie": f"sessionid={self.client.cookies.get('sessionid')}", "Origin": self.base}
        while not stop.is_set():
            last = self.received[-1] if self.received else after
            try:
                async with websockets.connect(f"{ws_url}?after={last}", additional_headers=headers,
                                              open_timeout=REQUEST_TIMEOUT_S, max_size=2**22) as ws:
                    self.ws_connects += 1
                    while not stop.is_set():
                        try:
                            message = await asyncio.wait_for(ws.recv(), timeout=1.0)
                        except TimeoutError:
                            continue
                        self.received.append(int(json.loads(message)["id"]))
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                self.ws_errors.append(f"{type(exc).__name__}: {exc}"[:200])
                await asyncio.sleep(1.0)

    # ---- page loads and API reads -----------------------------------------------------------------

    async def get(self, page: str, url: str) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            response = await self.client.get(url, headers={"Accept": "text/html,application/json"})
        except httpx.TimeoutException:
            self.stats.error(page, "timeout", (time.perf_counter() - t0) * 1000)
            return None
        except httpx.HTTPError as exc:
            self.stats.error(page, type(exc).__name__, detail=str(exc))
            return None
        ms = (time.perf_counter() - t0) * 1000
        if response.status_code >= 500:
            self.stats.error(page, "5xx", ms, response.text)
        elif response.status_code >= 400:
            self.stats.error(page, f"http {response.status_code}", ms, response.text)
        else:
            self.stats.ok(page, ms)
        return response

    async def visit(self, slugs: list[str]) -> None:
        """One page load as a browser makes it (the page, then what its scripts fetch), or one API read."""
        choice = self.rng.choices(
            ("dashboard", "tree", "leaderboard", "design", "search", "api"), weights=(2, 2, 1, 3, 1, 3))[0]
        if choice == "dashboard":
            await self.get("dashboard", "/dashboard/")
            await self.get("dashboard fitness.json", "/dashboard/fitness.json")
            await self.get("dashboard panel", "/dashboard/panels/workers/")
        elif choice == "tree":
            await self.get("tree", "/")
            await self.get("tree results", "/tree/results/")
            await self.get("tree graph.json", "/tree/graph.json")
        elif choice == "leaderboard":
            await self.get("leaderboard", "/leaderboard/")
        elif choice == "design" and slugs:
            await self.get("design", f"/designs/{self.rng.choice(slugs)}/")
        elif choice == "search":
            await self.get("knowledge search", "/knowledge/?q=" + self.rng.choice(SEARCHES).replace(" ", "+"))
        else:
            url = self.rng.choice(("/api/designs/", "/api/verifications/", "/api/lineage/",
                                   f"/api/events/?after={max(0, (self.received or [0])[-1] - 20)}"))
            await self.get("API " + url.split("?")[0], url)

    async def browse(self, slugs: list[str], stop: asyncio.Event) -> None:
        await self.think(stop, 0, self.think_s[1])  # do not all start at once
        while not stop.is_set():
            await self.visit(slugs)
            await self.think(stop, *self.think_s)

    async def think(self, stop: asyncio.Event, low: float, high: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=self.rng.uniform(low, high))
        except TimeoutError:
            pass


def order_faults(received: list[int]) -> tuple[int, int]:
    """(out-of-order deliveries, duplicates) in one client's stream of event ids."""
    out_of_order = sum(1 for a, b in zip(received, received[1:], strict=False) if b < a)
    return out_of_order, len(received) - len(set(received))
