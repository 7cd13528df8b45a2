#!/usr/bin/env bash
# The main job on a fresh clone: makes .venv, installs honeyscope, and runs the full analysis of the
# bundled data set into a report (honeyscope demo). Extra arguments go to `honeyscope demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/honeyscope demo "$@"
