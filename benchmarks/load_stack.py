"""The studio under load test: started by the benchmark itself, on a free loopback port, in a
temporary folder, and stopped (with everything it started) at the end.

Two deployments: `sqlite` (the embedded default: SQLite file, filesystem broker, websockets tailing
the events table) and `postgres` (a fresh PostgreSQL database created and dropped here, Redis on
127.0.0.1:6379 in a database number of its own, flushed before and after).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"
REDIS_DB = 13  # the load test's own Redis database (the integration tests use 9)
PASSWORD = "load-test-pw-7391"
# Tables whose growth is "the loop's writes during the test".
WRITE_TABLES = {
    "designs": "SELECT COUNT(*) FROM evolution_design",
    "checks": "SELECT COUNT(*) FROM evolution_checkrun",
    "verifications done": "SELECT COUNT(*) FROM evolution_verification WHERE status = 'done'",
    "verifications failed": "SELECT COUNT(*) FROM evolution_verification WHERE status = 'failed'",
    "jobs finished": "SELECT COUNT(*) FROM evolution_job WHERE status IN ('done', 'failed')",
    "events": "SELECT COUNT(*) FROM evolution_event",
}

SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from evolution.services.loop import update_settings
from evolution.services.roles import assign_role, create_roles
from evolution.services.runs import ensure_active_run
create_roles()
hashed = make_password("{password}")  # one hash for all: logging in still checks it, setup skips N-1 hashes
for i in range({n}):
    user, _ = get_user_model().objects.get_or_create(username=f"researcher{{i:02d}}", defaults={{"password": hashed}})
    assign_role(user, "researcher")
run = ensure_active_run()
run.budgets = {{"screen": 100000, "test": 100000}}
run.save()
update_settings(run, {{"design_workers": 1, "verify_workers": 1, "designer": "gp", "max_backlog": 1000,
                      "stale_after_s": 300}})
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    backend: str  # "sqlite" or "postgres"
    researchers: int
    data_dir: str = ""
    library: bool = True
    keep: bool = False
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="genesys-load-")))
    port: int = field(default_factory=free_port)
    db_name: str = ""
    server: subprocess.Popen | None = None
    started: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.tmp / "server.log"

    @property
    def sqlite_path(self) -> Path:
        return self.tmp / "var" / "genesys.sqlite3"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG")}
        env.update({
            "GENESYS_VAR_DIR": str(self.tmp / "var"),
            "DJANGO_SECRET_KEY": "load-test-" + uuid.uuid4().hex,
            "DJANGO_SETTINGS_MODULE": "genesys_site.settings",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(REPO),
        })
        if self.data_dir:
            env["GENESYS_DATA_DIR"] = self.data_dir
        if self.backend == "postgres":
            env["DATABASE_URL"] = f"{PG}/{self.db_name}"
            env["REDIS_URL"] = f"{REDIS}/{REDIS_DB}"
        return env

    # ---- lifecycle ---------------------------------------------------------------------------

    def prepare(self, say=print) -> None:
        """A fresh database, migrated, seeded, with the researchers and the run's settings."""
        if self.backend == "postgres":
            import psycopg
            import redis

            self.db_name = f"genesys_load_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
            redis.Redis.from_url(f"{REDIS}/{REDIS_DB}").flushdb()
        t0 = time.time()
        self.manage("migrate", "--noinput")
        self.manage("seed_designs", "--no-check")
        self.manage("shell", "-c", SETUP.format(n=self.researchers, password=PASSWORD))
        say(f"  database ready in {time.time() - t0:.0f} s ({self.backend}, {self.researchers} researchers)")
        library = Path(self.data_dir) / "knowledge" / "genesys-reference-library" if self.data_dir else None
        if self.library and library and (library / "papers").is_dir():
            t0 = time.time()
            self.manage("import_library", str(library), "--abstracts-only", timeout=900)
            say(f"  reference library (abstracts) imported in {time.time() - t0:.0f} s")

    def manage(self, *args: str, timeout: float = 600) -> str:
        out = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env(), capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{out.stderr[-3000:]}")
        return out.stdout

    def start(self, say=print, wait_s: float = 180) -> None:
        """`manage.py run_studio` (web server, conductor, workers), as `make start` runs it."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.server = subprocess.Popen(
            [sys.executable, "manage.py", "run_studio", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.started.add(self.server.pid)
        import httpx

        deadline = time.time() + wait_s
        while time.time() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"run_studio exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/accounts/login/", timeout=5).status_code == 200:
                    self._remember_children()
                    say(f"  studio up at {self.url} (pid {self.server.pid})")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"the studio did not answer within {wait_s:.0f} s")

    def _remember_children(self) -> None:
        """The processes run_studio started (each in its own session), so none outlives the test."""
        import psutil

        try:
            for child in psutil.Process(self.server.pid).children(recursive=True):
                self.started.add(child.pid)
        except psutil.NoSuchProcess:
            pass

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the web server and by everything else the studio started."""
        import psutil

        web = other = 0.0
        try:
            procs = [psutil.Process(self.server.pid), *psutil.Process(self.server.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return {"web": 0.0, "workers": 0.0}
        for proc in procs:
            try:
                times = proc.cpu_times()
                used = times.user + times.system
                if "daphne" in " ".join(proc.cmdline()):
                    web += used
                else:
                    other += used
            except psutil.NoSuchProcess:
                pass
        return {"web": web, "workers": other}

    def stop(self) -> None:
        """SIGTERM to run_studio (which stops its children), then SIGKILL whatever it started that is left."""
        import psutil

        if self.server is not None and self.server.poll() is None:
            self._remember_children()
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        for pid in sorted(self.started):
            try:
                proc = psutil.Process(pid)
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        if self.server is not None:
            self.server.wait()

    def cleanup(self) -> None:
        if self.backend == "postgres" and self.db_name:
            import psycopg
            import redis

            with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            redis.Redis.from_url(f"{REDIS}/{REDIS_DB}").flushdb()
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- reading the database directly (the bench's own bookkeeping, not the app's) -------------

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.backend == "postgres":
            import psycopg

            with psycopg.connect(f"{PG}/{self.db_name}") as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
        conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def counts(self) -> dict[str, int]:
        return {name: int(self.query(sql)[0][0]) for name, sql in WRITE_TABLES.items()}

    def last_event_id(self) -> int:
        return int(self.query("SELECT COALESCE(MAX(id), 0) FROM evolution_event")[0][0])

    def event_ids(self, after: int, upto: int) -> list[int]:
        rows = self.query("SELECT id FROM evolution_event WHERE id > ? AND id <= ? ORDER BY id", (after, upto))
        return [int(r[0]) for r in rows]

    def design_slugs(self) -> list[str]:
        return [r[0] for r in self.query("SELECT slug FROM evolution_design ORDER BY id")]

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_counts(self, upto: int | None = None) -> dict[str, int]:
        """Errors in the server log up to byte `upto` (the end of the test: what shutdown logs is not counted)."""
        data = self.log_path.read_bytes() if self.log_path.exists() else b""
        text = data[:upto].decode(errors="replace")
        return {
            "database is locked": text.count("database is locked"),
            "tracebacks": text.count("Traceback (most recent call last)"),
            "log ERROR lines": sum(1 for line in text.splitlines() if " ERROR" in line or line.startswith("ERROR")),
        }

    def describe(self) -> dict:
        return {"backend": self.backend, "url": self.url, "tmp": str(self.tmp), "db": self.db_name or
                str(self.sqlite_path), "redis": f"{REDIS}/{REDIS_DB}" if self.backend == "postgres" else None}


def dump(doc: dict) -> str:
    return json.dumps(doc, indent=1, default=str)
