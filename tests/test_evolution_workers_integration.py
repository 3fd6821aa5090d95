"""The loop on real services: PostgreSQL, Redis as the Celery broker, a worker process and the
conductor. The worker is killed in the middle of a verification and restarted; afterwards every
design and every job is accounted for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"

pytestmark = [pytest.mark.services, pytest.mark.slow]

QUERY = """
import json
from evolution.models import Design, Job, Verification
print("RESULT" + json.dumps({
    "designs": list(Design.objects.values("id", "name", "status", "is_seed", "run_id")),
    "jobs": list(Job.objects.values("id", "kind", "status", "attempts", "design_id", "verification_id",
                                    "failure_category", "error")),
    "verifications": list(Verification.objects.values("id", "design_id", "rung", "status", "fitness")),
}))
"""

SETUP = """
from evolution.models import EvolutionRun
from evolution.services.loop import update_settings
from evolution.services.runs import ensure_active_run
run = ensure_active_run()
run.budgets = {"test": 2}
run.save()
update_settings(run, {"design_workers": 1, "verify_workers": 1, "designer": "gp", "max_designs": 2,
                      "stale_after_s": 15, "max_attempts": 3, "verify_timeout_s": {"test": 900}})
"""


def _services_up() -> bool:
    try:
        import psycopg
        import redis

        psycopg.connect(f"{PG}/postgres", connect_timeout=3).close()
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def stack(tmp_path, genesys_data_dir):
    if not _services_up():
        pytest.skip("PostgreSQL and Redis on 127.0.0.1 are needed")
    import psycopg

    name = f"genesys_it_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_db = 9
    import redis

    redis.Redis.from_url(f"{REDIS}/{redis_db}").flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{name}",
        "REDIS_URL": f"{REDIS}/{redis_db}",
        "GENESYS_VAR_DIR": str(tmp_path / "var"),
        "GENESYS_DATA_DIR": str(genesys_data_dir),
        "DJANGO_SETTINGS_MODULE": "genesys_site.settings",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_DEBUG", None)
    processes: list[subprocess.Popen] = []

    def manage(*args: str, timeout: float = 300) -> str:
        out = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=timeout)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    def start(*args: str, log: str) -> subprocess.Popen:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=open(tmp_path / log, "ab"),  # noqa: SIM115
                                stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(proc)
        return proc

    def state() -> dict:
        out = manage("shell", "-c", QUERY)
        return json.loads(out[out.index("RESULT") + 6:])

    manage("migrate", "--noinput")
    manage("seed_designs", "--no-check")
    manage("shell", "-c", SETUP)
    yield {"manage": manage, "start": start, "state": state, "tmp": tmp_path}
    for proc in processes:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker(stack) -> subprocess.Popen:
    return stack["start"](sys.executable, "-m", "celery", "-A", "genesys_site", "worker", "-Q",
                          "design,check,verify", "-c", "2", "--without-gossip", "--without-mingle",
                          "--loglevel", "INFO", log="worker.log")


def wait_for(stack, predicate, timeout: float, what: str) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        snapshot = stack["state"]()
        if predicate(snapshot):
            return snapshot
        time.sleep(3)
    logs = "\n".join((stack["tmp"] / f).read_text()[-3000:] for f in ("worker.log", "conductor.log")
                     if (stack["tmp"] / f).exists())
    raise AssertionError(f"timed out waiting for {what}; last state {snapshot}\n{logs}")


@pytest.mark.timeout(2400)
def test_a_killed_worker_loses_no_design(stack):
    stack["start"](sys.executable, "manage.py", "evolve", "--interval", "1", log="conductor.log")
    first = worker(stack)

    def verifying(s: dict) -> bool:
        return any(j["kind"] == "verify" and j["status"] == "running" for j in s["jobs"])

    wait_for(stack, verifying, 600, "a verification to start")
    time.sleep(5)  # well inside the training run
    os.killpg(first.pid, signal.SIGKILL)  # the worker and the verification it runs die at once
    first.wait()
    worker(stack)

    def settled(s: dict) -> bool:
        designs = [j for j in s["jobs"] if j["kind"] == "design" and j["status"] == "done"]
        busy = [j for j in s["jobs"] if j["status"] in ("queued", "running")]
        return len(designs) >= 2 and not busy and any(j["attempts"] > 1 for j in s["jobs"])

    final = wait_for(stack, settled, 1500, "the run to settle after the restart")
    made = [d for d in final["designs"] if not d["is_seed"]]
    design_jobs = [j for j in final["jobs"] if j["kind"] == "design"]
    # Every design job that finished made exactly one stored design; no design was lost or doubled.
    assert sorted(j["design_id"] for j in design_jobs if j["status"] == "done") == sorted(d["id"] for d in made)
    # The interrupted verification was retried after the restart and ended, done or failed with a reason.
    retried = [j for j in final["jobs"] if j["kind"] == "verify" and j["attempts"] > 1]
    assert retried, final["jobs"]
    assert all(j["status"] == "done" or j["failure_category"] for j in final["jobs"])
    assert all(v["status"] in ("done", "failed") for v in final["verifications"])
    assert any(v["status"] == "done" and v["fitness"] is not None for v in final["verifications"])
