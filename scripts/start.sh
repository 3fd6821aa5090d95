#!/usr/bin/env bash
# Start Genesys Studio on the embedded default: SQLite, embedded broker, one machine.
# Called by `make start` after setup; safe to run again (every step is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${GENESYS_HOST:-127.0.0.1}
PORT=${GENESYS_PORT:-8000}
if [ -z "${GENESYS_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export GENESYS_DATA_DIR="$(cd ../shared/data && pwd)"
fi

$PY manage.py migrate --noinput
$PY manage.py create_roles
$PY manage.py seed_designs
$PY manage.py ensure_demo_user
$PY manage.py collectstatic --noinput -v 0
$PY manage.py data_status || true

exec $PY manage.py run_studio --host "$HOST" --port "$PORT"
