#!/usr/bin/env bash
# The whole test suite on a fresh clone: makes .venv, installs honeyscope with its test and Spark
# extras, installs Chromium and Java (browser and Spark tests) when run as root and they are missing,
# then runs ruff and pytest (every test, the slow ones too; pass -m 'not slow' to skip those).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev,spark]'
# Debian packages the slow tests use: chromium (the report in a browser), a Java runtime (Spark),
# rsyslog (the collect docs' forwarding snippet against a real rsyslogd).
want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v java >/dev/null 2>&1 || want+=(openjdk-17-jre-headless)
command -v rsyslogd >/dev/null 2>&1 || want+=(rsyslog)  # docs/collect.md's forwarding snippet, run
if [ ${#want[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null) \
    || echo "warning: could not install ${want[*]}; the tests that need them will be skipped" >&2
fi
.venv/bin/ruff check src tests benchmarks scripts
exec .venv/bin/python -m pytest -n 2 "$@"
