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
$PY manage.py refresh_fitness  # F after a migration renamed results (0012); a no-op otherwise
$PY manage.py create_roles
$PY manage.py seed_designs
$PY manage.py ensure_demo_user
$PY manage.py collectstatic --noinput -v 0
$PY manage.py data_status || true

# The knowledge engine: the reference library's 297 papers (abstracts, metadata, citation links), so
# search and the proposer's references work from the first start. About a minute the first time, a
# no-op afterwards. Full texts (24k passages, 15+ minutes of CPU): `make library`.
LIBRARY="${GENESYS_DATA_DIR:-}/knowledge/genesys-reference-library"
if [ -n "${GENESYS_DATA_DIR:-}" ] && [ -d "$LIBRARY/papers" ]; then
  $PY manage.py import_library "$LIBRARY" --abstracts-only || echo "the reference library could not be imported (see above); search starts empty"
else
  echo "no reference library under GENESYS_DATA_DIR: the knowledge engine starts empty (manage.py import_library PATH)"
fi

exec $PY manage.py run_studio --host "$HOST" --port "$PORT"
