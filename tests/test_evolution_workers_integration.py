"""The loop on real services: PostgreSQL, Redis as the Celery broker, a worker process and the
conductor. The worker is killed in the middle of a verification and restarted; in another run Redis
(a private redis-server, never the shared one) and the conductor are killed mid-run and restarted.
Afterwards every design, upload, verification and job is accounted for: none lost, none stuck
running, none duplicated.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytest_plugins = ["private_redis"]  # fixture: private_redis (a redis-server this test may kill)

REPO = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"

pytestmark = [pytest.mark.services, pytest.mark.slow]

QUERY = """
import json
from evolution.models import Design, Job, Upload, Verification
print("RESULT" + json.dumps({
    "designs": list(Design.objects.values("id", "name", "status", "is_seed", "origin_kind", "run_id")),
    "jobs": list(Job.objects.values("id", "kind", "status", "attempts", "design_id", "verification_id",
                                    "failure_category", "error", "params")),
    "uploads": list(Upload.objects.values("id", "name", "status", "design_id", "error")),
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


@contextlib.contextmanager
def make_stack(tmp_path: Path, genesys_data_dir: Path, redis_url: str):
    """A fresh PostgreSQL database, migrated and seeded, and helpers to run the site's processes on it."""
    import psycopg

    name = f"genesys_it_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{name}",
        "REDIS_URL": redis_url,
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

    try:
        manage("migrate", "--noinput", timeout=900)  # minutes on a loaded machine
        manage("seed_designs", "--no-check")
        manage("shell", "-c", SETUP)
        yield {"manage": manage, "start": start, "state": state, "tmp": tmp_path}
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack(tmp_path, genesys_data_dir):
    if not _services_up():
        pytest.skip("PostgreSQL and Redis on 127.0.0.1 are needed")
    import redis

    redis_db = 9
    redis.Redis.from_url(f"{REDIS}/{redis_db}").flushdb()
    with make_stack(tmp_path, genesys_data_dir, f"{REDIS}/{redis_db}") as built:
        yield built


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
    made = [d for d in final["designs"] if d["origin_kind"] != "seed"]  # a seed failing its check is no longer is_seed
    design_jobs = [j for j in final["jobs"] if j["kind"] == "design"]
    # Every design job that finished made exactly one stored design; no design was lost or doubled.
    assert sorted(j["design_id"] for j in design_jobs if j["status"] == "done") == sorted(d["id"] for d in made)
    # The interrupted verification was retried after the restart and ended, done or failed with a reason.
    retried = [j for j in final["jobs"] if j["kind"] == "verify" and j["attempts"] > 1]
    assert retried, final["jobs"]
    assert all(j["status"] == "done" or j["failure_category"] for j in final["jobs"])
    assert all(v["status"] in ("done", "failed") for v in final["verifications"])
    assert any(v["status"] == "done" and v["fitness"] is not None for v in final["verifications"])


# ---- Redis and the conductor killed mid-run ---------------------------------------------------------

UPLOAD = """
from evolution.services.intake import submit_design
from evolution.services.roles import create_roles, ensure_user
from verifier.core.seeds import load_seed
create_roles()
user = ensure_user("rita", "pw-pw-pw-9-long", "researcher")[0]
tree = load_seed("gpt")
tree.name = "uploaded-while-redis-was-down"
tree.units["GatedMLP"].code = tree.units["GatedMLP"].code.replace("F.silu(gate)", "F.gelu(gate)")
print("UPLOAD", submit_design(user, text=tree.to_json()).status)
"""


def _settled(s: dict) -> bool:
    made = [j for j in s["jobs"] if j["kind"] == "design" and j["status"] == "done"]
    busy = [j for j in s["jobs"] if j["status"] in ("queued", "running")]
    return (len(made) >= 1 and not busy and all(u["status"] != "checking" for u in s["uploads"])
            and all(v["status"] in ("done", "failed") for v in s["verifications"]))


@pytest.mark.timeout(2400)
def test_killing_redis_and_the_conductor_loses_nothing(private_redis, tmp_path, genesys_data_dir):
    try:
        import psycopg

        psycopg.connect(f"{PG}/postgres", connect_timeout=3).close()
    except Exception:  # noqa: BLE001
        pytest.skip("PostgreSQL on 127.0.0.1 is needed")
    with make_stack(tmp_path, genesys_data_dir, private_redis.url) as stack:
        # One design (the seeds are verified too) and a quick re-send, to stay within a few minutes.
        stack["manage"]("shell", "-c", "from evolution.services.loop import update_settings; "
                        "from evolution.services.runs import ensure_active_run; "
                        "update_settings(ensure_active_run(), {'max_designs': 1, 'stale_after_s': 10}); "
                        "run = ensure_active_run(); run.budgets = {'test': 1}; run.save()")
        started = time.time()
        conductor = stack["start"](sys.executable, "manage.py", "evolve", "--interval", "1", log="conductor.log")
        worker(stack)

        def verifying(s: dict) -> bool:
            return any(j["kind"] == "verify" and j["status"] == "running" for j in s["jobs"])

        wait_for(stack, verifying, 420, "a verification to start")
        to_verifying = time.time() - started
        private_redis.kill()  # the broker and every message in it are gone
        time.sleep(3)
        os.killpg(conductor.pid, signal.SIGKILL)  # and the conductor, mid-step
        conductor.wait()
        out = stack["manage"]("shell", "-c", UPLOAD)  # a researcher uploads while both are down
        assert "UPLOAD checking" in out, out
        during = stack["state"]()
        [pending] = during["uploads"]
        time.sleep(5)
        private_redis.start()  # back, empty
        back = time.time()
        stack["start"](sys.executable, "manage.py", "evolve", "--interval", "1", log="conductor.log")

        def upload_decided(s: dict) -> bool:
            return all(u["status"] != "checking" for u in s["uploads"])

        wait_for(stack, upload_decided, 300, "the upload sent during the outage to be checked")
        upload_after_s = time.time() - back
        final = wait_for(stack, _settled, 1500, "the run to settle after Redis and the conductor came back")
        settle_after_s = time.time() - back

    made = [d for d in final["designs"] if d["origin_kind"] != "seed" and d["name"] != pending["name"]]
    design_jobs = [j for j in final["jobs"] if j["kind"] == "design"]
    # Every design job that finished made exactly one stored design; none lost, none doubled.
    assert sorted(j["design_id"] for j in design_jobs if j["status"] == "done") == sorted(d["id"] for d in made)
    # Nothing is left running or queued; what failed says why.
    assert all(j["status"] in ("done", "failed", "cancelled") for j in final["jobs"])
    assert all(j["status"] != "failed" or j["failure_category"] for j in final["jobs"])
    assert all(v["status"] in ("done", "failed") for v in final["verifications"])
    assert any(v["status"] == "done" and v["fitness"] is not None for v in final["verifications"])
    assert len({(v["design_id"], v["rung"]) for v in final["verifications"]}) == len(final["verifications"])
    # The upload sent while the broker was down was checked once and entered the tree once.
    [upload] = final["uploads"]
    assert upload["status"] == "accepted", upload
    assert [d["name"] for d in final["designs"]].count(pending["name"]) == 1
    checks = [j for j in final["jobs"] if j["kind"] == "check" and j["params"].get("upload")]
    assert len(checks) == 1 and checks[0]["status"] == "done" and checks[0]["attempts"] == 1
    # The worker lived through the outage: its consumer reconnected and never gave up.
    worker_log = (tmp_path / "worker.log").read_text()
    assert "Unrecoverable error" not in worker_log
    assert worker_log.count("Connected to redis://") >= 2
    figures = {
        "to_first_verification_s": round(to_verifying), "upload_checked_after_restart_s": round(upload_after_s),
        "settled_after_restart_s": round(settle_after_s),
        "jobs": {k: sum(1 for j in final["jobs"] if j["kind"] == k) for k in ("design", "check", "verify")},
        "job_attempts_over_1": sum(1 for j in final["jobs"] if j["attempts"] > 1),
        "failed_jobs": [(j["kind"], j["failure_category"]) for j in final["jobs"] if j["status"] == "failed"],
        "worker_tidy_up_failures_survived": worker_log.count("tidying up the lost broker connection failed"),
        "acks_to_lost_connection": worker_log.count("finished after its broker connection was lost"),
        "designs_made": len(made), "verifications": {s: sum(1 for v in final["verifications"] if v["status"] == s)
                                                    for s in ("done", "failed")},
    }
    print("FIGURES", json.dumps(figures))
