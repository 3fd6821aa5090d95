#!/usr/bin/env bash
# Create .venv and install Genesys Studio with every extra.
# torch: on a CPU machine we pin the CPU build (torch==2.13.0) so pip never pulls a multi-GB CUDA
# build. On a GPU host set TORCH_SPEC to the build you want, e.g.
#   TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124" make setup
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
# The sandbox (docs/SANDBOX.md): without bubblewrap no generated code runs.
if ! command -v bwrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
      || echo "warning: could not install bubblewrap; checks and verifications will refuse to run" >&2
  else
    echo "warning: install bubblewrap (apt-get install bubblewrap); without it no generated code runs" >&2
  fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# shellcheck disable=SC2086
.venv/bin/python -m pip install -q ${TORCH_SPEC:-torch==2.13.0}
.venv/bin/python -m pip install -q -e ".[all]"
echo "Installed into .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
