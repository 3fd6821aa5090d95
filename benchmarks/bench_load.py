"""A bounded load test of the whole studio (issue #17): loopback only, and it stops by itself.

It starts the app itself (`manage.py run_studio`: daphne, the conductor, the Celery workers) on a free
127.0.0.1 port in a temporary folder, on its own database (SQLite there, or a fresh PostgreSQL
database it creates and drops, with Redis database 13), seeds it, creates N researchers and sets the
loop to the GP designer on the CPU `screen` and `test` rungs, so designs, checks and verifications
are written all through the test. Each researcher logs in, holds one websocket on the live event
stream and loops over page loads (dashboard, tree, leaderboard, a design page, knowledge search)
and API reads with think time. At the end it stops everything and prints per page p50/p95/max and
errors by kind, events delivered per client against events written (lost, out of order), the
server log's 'database is locked' and tracebacks, and the loop's writes during the test.

    .venv/bin/python benchmarks/bench_load.py --researchers 10 --minutes 1          # a short run
    nice -n 5 .venv/bin/python benchmarks/bench_load.py                              # 50 x 10 min, SQLite
    nice -n 5 .venv/bin/python benchmarks/bench_load.py --backend postgres           # PostgreSQL + Redis
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_io import say, write_json  # noqa: E402
from load_report import event_summary, page_rows, render, verdict  # noqa: E402,F401 - render: for callers
from load_researchers import Researcher, Stats  # noqa: E402
from load_stack import PASSWORD, Stack  # noqa: E402

SETTLE_S = 20.0  # after the last request: time for the last events to reach every client


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--researchers", type=int, default=50)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--think", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN_S", "MAX_S"))
    p.add_argument("--warmup", type=float, default=20.0, help="seconds between start and the first login")
    p.add_argument("--no-library", action="store_true", help="skip importing the reference library's abstracts")
    p.add_argument("--data-dir", default=os.environ.get("GENESYS_DATA_DIR", ""))
    p.add_argument("--json", type=Path, help="write the result document here")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, SQLite file)")
    p.add_argument("--check", action="store_true", help="exit 1 on 5xx, timeouts, lost events or a locked database")
    return p.parse_args(argv)


async def sample_load(stop: asyncio.Event, out: list[float], every_s: float = 5.0) -> None:
    while not stop.is_set():
        out.append(os.getloadavg()[0])
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            pass


async def refresh_slugs(stack: Stack, slugs: list[str], stop: asyncio.Event) -> None:
    """Design pages visited are those that exist now: new designs join as the loop makes them."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=20.0)
        except TimeoutError:
            slugs[:] = await asyncio.to_thread(stack.design_slugs)


async def drive(stack: Stack, args: argparse.Namespace) -> dict:
    stats = Stats()
    slugs = await asyncio.to_thread(stack.design_slugs)
    researchers = [Researcher(i, stack.url, f"researcher{i:02d}", PASSWORD, stats, think_s=tuple(args.think))
                   for i in range(args.researchers)]
    start_id = await asyncio.to_thread(stack.last_event_id)
    before = await asyncio.to_thread(stack.counts)
    for batch in range(0, len(researchers), 5):  # a login costs a password hash: a few at a time
        await asyncio.gather(*(r.login() for r in researchers[batch:batch + 5]))
    say(f"  {len(researchers)} researchers logged in; events from #{start_id} on")
    browse_stop, ws_stop, aux_stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    loads: list[float] = []
    listeners = [asyncio.create_task(r.listen(start_id, ws_stop)) for r in researchers]
    aux = [asyncio.create_task(sample_load(aux_stop, loads)), asyncio.create_task(refresh_slugs(stack, slugs, aux_stop))]
    browsers = [asyncio.create_task(r.browse(slugs, browse_stop)) for r in researchers]
    cpu_before = stack.cpu_seconds()
    started = time.perf_counter()
    deadline = started + args.minutes * 60
    while time.perf_counter() < deadline:
        await asyncio.sleep(min(30.0, max(0.0, deadline - time.perf_counter())))
        done = sum(len(v) for v in stats.latencies.values())
        say(f"  [{(time.perf_counter() - started) / 60:4.1f} min] {done} requests, load {os.getloadavg()[0]:.2f}")
    browse_stop.set()
    await asyncio.gather(*browsers)
    measured = time.perf_counter() - started
    cpu = {k: v - cpu_before[k] for k, v in stack.cpu_seconds().items()}
    end_id = await asyncio.to_thread(stack.last_event_id)
    settle = time.perf_counter() + SETTLE_S
    while time.perf_counter() < settle and any(max(r.received, default=start_id) < end_id for r in researchers):
        await asyncio.sleep(0.5)
    ws_stop.set()
    aux_stop.set()
    await asyncio.gather(*listeners, *aux)
    for r in researchers:
        await r.close()
    log_end = stack.log_size()
    after = await asyncio.to_thread(stack.counts)
    written = await asyncio.to_thread(stack.event_ids, start_id, end_id)
    return {
        "config": {"backend": args.backend, "researchers": args.researchers, "minutes": args.minutes,
                   "think_s": list(args.think)},
        "measured_s": measured, "cpus": os.cpu_count(),
        "load_average": {"mean": sum(loads) / max(1, len(loads)), "max": max(loads, default=0.0)},
        "pages": page_rows(stats),
        "events": event_summary(researchers, written),
        "writes": {k: after[k] - before[k] for k in after},
        "cpu_s": cpu,
        "error_samples": stats.samples,
        "ws_error_samples": [e for r in researchers for e in r.ws_errors][:20],
        "log_end": log_end,
    }


def run(args: argparse.Namespace) -> dict:
    """The whole test: prepare, start, drive, stop; returns the result document (with `stack`)."""
    stack = Stack(args.backend, args.researchers, data_dir=args.data_dir, library=not args.no_library,
                  keep=args.keep)
    say(f"load test: {args.backend}, {args.researchers} researchers x {args.minutes:g} min, in {stack.tmp}")
    try:
        stack.prepare(say)
        stack.start(say)
        time.sleep(args.warmup)
        doc = asyncio.run(drive(stack, args))
        doc["server_log"] = stack.log_counts(doc.pop("log_end"))
    finally:
        stack.stop()
        stack.cleanup()
    doc["stack"] = stack.describe()
    return doc


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the studio and its database are still removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    doc = run(args)
    write_json(args.json, doc)
    say("")
    say(render(doc))
    for sample in doc["error_samples"][:5]:
        say(f"  e.g. {sample}")
    return 1 if args.check and verdict(doc) else 0


if __name__ == "__main__":
    sys.exit(main())
