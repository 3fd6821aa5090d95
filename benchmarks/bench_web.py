"""Server time of the studio's pages with a thousand designs.

Fills a fresh database (SQLite in a temporary folder by default, or --database-url, e.g. PostgreSQL)
with the seeds and synthetic descendants through the real services, then times requests handled
in-process by Django's test client (server time: no network, no browser). Prints median and p95 per
page and compares them with the targets of issue #5: p95 under 300 ms for the tree page and under
100 ms for the API list.

    .venv/bin/python benchmarks/bench_web.py                 # 1,000 designs, SQLite
    .venv/bin/python benchmarks/bench_web.py --database-url postgres://postgres@127.0.0.1:5432/genesys_bench
    .venv/bin/python benchmarks/bench_web.py --designs 2000 --repeat 50 --check   # exit 1 if a target is missed
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGETS_MS = {"tree page": 300.0, "API list": 100.0}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--designs", type=int, default=1000, help="designs in the tree, seeds included")
    p.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    p.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    p.add_argument("--var-dir", default="", help="keep the SQLite database here and reuse it next time")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args()


def configure(args: argparse.Namespace) -> None:
    var_dir = args.var_dir or tempfile.mkdtemp(prefix="genesys-bench-")
    os.environ["GENESYS_VAR_DIR"] = var_dir
    (Path(var_dir) / "staticfiles").mkdir(parents=True, exist_ok=True)  # whitenoise warns without it
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
        if args.database_url.startswith("postgres"):
            _create_postgres_database(args.database_url)
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genesys_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def _create_postgres_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def fill(n_designs: int) -> None:
    from django.core.management import call_command

    from evolution.demo import build_history
    from evolution.models import Design
    from evolution.services.roles import create_roles, ensure_user

    call_command("migrate", verbosity=0)
    create_roles()
    ensure_user("bench", "bench-password-1", "researcher")
    have = Design.objects.count()
    if have >= n_designs:
        print(f"reusing {have} designs")
        return
    started = time.perf_counter()
    build_history(n_designs - max(have, 5), seed=have or 0, demo=False)  # its own database: pages need rows they count
    print(f"filled {Design.objects.count()} designs in {time.perf_counter() - started:.0f} s")


def measure(client, url: str, repeat: int) -> list[float]:
    for _ in range(3):  # warm caches (templates, highlighted code, connections)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    args = parse_args()
    configure(args)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from evolution.models import Design

    settings.ALLOWED_HOSTS = ["*"]
    fill(args.designs)
    design = (Design.objects.filter(status="verified", generation__gt=0, parent_links__isnull=False)
              .order_by("-generation", "id").first())
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    pages = {
        "tree page": "/",
        "design page": design.get_absolute_url(),
        "API list": "/api/designs/",
        "lineage JSON": "/api/lineage/",
        "diff page": f"/designs/{design.slug}/diff/",
        "leaderboard": "/leaderboard/?rung=14M",
    }
    print(f"{Design.objects.count()} designs · {connection.vendor} · {args.repeat} requests per page · "
          f"design page: {design.name} (generation {design.generation})")
    print(f"{'page':<14} {'median ms':>10} {'p95 ms':>10}  target")
    missed = []
    for name, url in pages.items():
        times = measure(client, url, args.repeat)
        target = TARGETS_MS.get(name)
        verdict = ""
        if target is not None:
            ok = p95(times) < target
            verdict = f"p95 < {target:.0f} ms: {'ok' if ok else 'MISSED'}"
            if not ok:
                missed.append(name)
        print(f"{name:<14} {statistics.median(times):>10.1f} {p95(times):>10.1f}  {verdict}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
