"""A broker outage against a real worker and a real producer (a private redis-server, killed and
restarted empty): the worker's consumer comes back and takes new tasks, a task that was running
through the outage finishes once, and a process whose send failed during the outage sends again.

Before genesys_site/broker_consumer.py the worker's consumer died on "'NoneType' object has no
attribute 'hostname'" in every run of the first test; before `pools.reset()` every send after the
outage failed with "Acquire on closed pool".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest_plugins = ["private_redis"]  # fixture: private_redis (a redis-server this test may kill)

pytestmark = pytest.mark.services
TESTS = Path(__file__).resolve().parent


def _reset_pools() -> None:
    from evolution.tasks import _reset_broker_pools

    _reset_broker_pools()


def _send(app, tag: str, seconds: float = 0) -> bool:
    try:
        app.send_task("outage.sleep", args=[seconds, tag])
        return True
    except Exception:  # noqa: BLE001 - the broker is down: drop the pools as the conductor does
        _reset_pools()
        return False


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("task_s", "kill_after_s", "down_s"), [(20, 5, 10), (30, 2, 3), (8, 3, 10)])
def test_a_worker_takes_new_tasks_after_redis_restarts(private_redis, tmp_path, monkeypatch, task_s, kill_after_s,
                                                      down_s):
    done = tmp_path / "done"
    env = {**os.environ, "REDIS_URL": private_redis.url, "OUTAGE_DONE_FILE": str(done),
           "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "broker_outage_app", "worker", "-c", "2", "--without-gossip",
         "--without-mingle", "--loglevel", "INFO"], cwd=TESTS, env=env, stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        from celery import Celery

        producer = Celery("producer", broker=private_redis.url, set_as_current=False)  # not the app later tests use
        started = time.time()
        while "ready." not in log.read_text() and time.time() - started < 120:
            time.sleep(0.5)
        assert _send(producer, "long", task_s) and _send(producer, "short", 1)
        time.sleep(kill_after_s)
        private_redis.kill()
        time.sleep(down_s)
        private_redis.start()
        back, probes = time.time(), 0
        while time.time() - back < 120 and not (done.exists() and "probe" in done.read_text()):
            probes += _send(producer, f"probe{probes}")
            time.sleep(2)
        recovered_s = time.time() - back
        deadline = time.time() + task_s + 30
        while time.time() < deadline and "long" not in (done.read_text() if done.exists() else ""):
            time.sleep(1)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    ran = done.read_text().split() if done.exists() else []
    text = log.read_text()
    assert any(t.startswith("probe") for t in ran), f"no task ran after the restart\n{text[-3000:]}"
    assert ran.count("long") == 1 and ran.count("short") == 1, ran  # the running task finished, once
    assert "Unrecoverable error" not in text
    print(f"worker took tasks again {recovered_s:.0f} s after Redis came back")


def test_a_producer_sends_again_after_redis_restarts(private_redis):
    import redis

    from genesys_site.celery import app as current_app  # the Studio's app, whatever ran before

    before = current_app.conf.broker_url
    current_app.conf.broker_url = private_redis.url
    _reset_pools()
    try:
        assert _send(current_app, "before")
        private_redis.kill()
        assert not _send(current_app, "during")
        private_redis.start()
        assert _send(current_app, "after")  # pools rebuilt: not "Acquire on closed pool"
        assert redis.Redis.from_url(private_redis.url).llen("design") == 1
    finally:
        current_app.conf.broker_url = before
        _reset_pools()
