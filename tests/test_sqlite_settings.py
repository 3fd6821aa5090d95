"""The embedded default's SQLite connection as the web server and the workers open it: WAL (readers
never wait for a commit), a 30 s busy timeout, writers taking the lock at BEGIN. Read in a fresh
process on a fresh file, since the test database is in memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PRAGMAS = """
import json, django
django.setup()
from django.db import connection
with connection.cursor() as c:
    print("RESULT" + json.dumps({p: c.execute("PRAGMA " + p).fetchone()[0]
                                 for p in ("journal_mode", "busy_timeout", "synchronous")}))
"""


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(GENESYS_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="genesys_site.settings", PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", PRAGMAS], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    pragmas = json.loads(out.stdout[out.stdout.index("RESULT") + 6:])
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "synchronous": 1}  # 1: NORMAL
