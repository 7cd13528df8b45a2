#!/usr/bin/env bash
# The main job on a fresh clone: makes .venv, installs honeyscope, and runs the full analysis of the
# bundled data set into a report (honeyscope demo). Extra arguments go to `honeyscope demo`.
# A second run skips pip (the install is editable: code changes need no reinstall) unless what the
# install depends on changed since (pyproject.toml, setup.py, C sources); the store is reused too.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.honeyscope-installed
if [ ! -e "$stamp" ] || [ -n "$(find pyproject.toml setup.py src -newer "$stamp" \
        \( -name pyproject.toml -o -name setup.py -o -name '*.c' -o -name '*.h' \) 2>/dev/null | head -1)" ] \
        || [ ! -x .venv/bin/honeyscope ] || ! .venv/bin/python -c "import honeyscope" 2>/dev/null; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e .
    touch "$stamp"
fi
exec .venv/bin/honeyscope demo "$@"
