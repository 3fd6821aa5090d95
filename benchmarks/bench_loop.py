"""The embedded evolution loop for a fixed time: what it makes, checks, screens and verifies per hour,
and where the workers' time went (issue #17).

    GENESYS_DATA_DIR=../shared/data python benchmarks/bench_loop.py --minutes 10

A fresh embedded install in a temporary folder (SQLite, kombu's filesystem broker), the seeds, and
one active run with the GP designer and the screen and test rungs; then the conductor and the
Celery workers the embedded default starts (`genesys_site.workers`), the real sandboxed checker and
verifier included, run for `--minutes`, and are stopped. The figures are
`evolution.selectors.loop_rates` over that window, the same numbers as the dashboard's
"Loop throughput" panel: counts and rates per hour, and the worker time per part (design, check,
each phase of a verification as its report times it, and the verify job's overhead beyond it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def setup_env(var_dir: Path, data_dir: str | None) -> dict[str, str]:
    env = {**os.environ, "GENESYS_VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir / 'genesys.sqlite3'}",
           "REDIS_URL": "", "PYTHONPATH": str(REPO), "DJANGO_SETTINGS_MODULE": "genesys_site.settings"}
    if data_dir:
        env["GENESYS_DATA_DIR"] = data_dir
    os.environ.update(env)
    return env


def prepare(args: argparse.Namespace):
    """Migrate, seed (unchecked: the seeds are known good), one active run; returns the run."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    from evolution.models import EvolutionRun
    from evolution.services.seeding import seed_designs

    seed_designs(check=False)
    EvolutionRun.objects.filter(is_active=True).update(is_active=False)
    budgets = {rung: args.budget for rung in args.rungs.split(",")}
    return EvolutionRun.objects.create(
        name="bench-loop", is_active=True, budgets=budgets,
        settings={"designer": "gp", "design_workers": args.design_workers, "verify_workers": args.verify_workers},
    )


def run_workers(env: dict[str, str], seconds: float, log_dir: Path) -> None:
    from genesys_site.workers import embedded_worker_commands

    children = []
    for i, cmd in enumerate(embedded_worker_commands()):
        log = open(log_dir / f"worker{i}.log", "wb")  # noqa: SIM115 - closed below
        children.append((subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True), log))
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(min(10.0, max(0.0, end - time.monotonic())))
            if any(child.poll() is not None for child, _ in children):
                print("a worker process ended early; see", log_dir, file=sys.stderr)
                break
    finally:
        for child, _ in children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for child, log in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
            log.close()


def report(figures: dict) -> str:
    c, h = figures["counts"], figures["per_hour"]
    lines = [f"over {figures['span_s'] / 60:.1f} min:",
             f"  designs made      {c['made']:5d}   {h['made']:8.1f} /h",
             f"  checked           {c['checked']:5d}   {h['checked']:8.1f} /h   ({c['passed']} passed)",
             f"  screened          {c['screened']:5d}   {h['screened']:8.1f} /h   ({c['screen_failed']} failed)",
             f"  verified          {c['verified']:5d}   {h['verified']:8.1f} /h   ({c['verify_failed']} failed)",
             f"  verifications under way at the end: {c['in_progress']} (their phases so far are in the time)",
             f"where the time went ({figures['worker_seconds']:.0f} worker-seconds; jobs side by side add up):"]
    for t in figures["time"]:
        share = f"{100 * t['share']:5.1f}%" if t["share"] is not None else "    –"
        lines.append(f"  {t['part']:<24} {t['seconds']:8.1f} s  {share}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rungs", default="screen,test", help="the run's rungs (budget each: --budget)")
    p.add_argument("--budget", type=int, default=1000)
    p.add_argument("--design-workers", type=int, default=1)
    p.add_argument("--verify-workers", type=int, default=1)
    p.add_argument("--data-dir", default=os.environ.get("GENESYS_DATA_DIR"))
    p.add_argument("--keep", type=Path, help="use this folder (kept) instead of a temporary one")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if not args.data_dir:
        p.error("no data directory: set GENESYS_DATA_DIR or --data-dir (verification needs the corpus)")
    var_dir = args.keep or Path(tempfile.mkdtemp(prefix="genesys-bench-loop-"))
    var_dir.mkdir(parents=True, exist_ok=True)
    env = setup_env(var_dir.resolve(), args.data_dir)
    sys.path.insert(0, str(REPO))
    run = prepare(args)
    from django.utils import timezone

    from evolution.selectors.loop_rates import loop_rates_for_run

    start = timezone.now()
    print(f"running the embedded loop for {args.minutes:g} min in {var_dir} (run {run.name}, rungs {args.rungs})",
          flush=True)
    run_workers(env, args.minutes * 60, var_dir)
    figures = loop_rates_for_run(run, now=timezone.now(), since=start)  # the window includes stopping (seconds)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
