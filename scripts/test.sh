#!/usr/bin/env bash
# Set everything up (first run only) and run the whole test suite: lint, types, tests.
# Arguments go to pytest, e.g. scripts/test.sh tests/edge -k tracker.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# systemd: the unit-file tests run systemd-analyze (nothing is started).
"$root/scripts/setup.sh" edge,cloud,dev systemd
cd "$root"
bin="$root/.venv/bin"

echo "== ruff"; "$bin/ruff" check . && "$bin/ruff" format --check .
echo "== mypy"; "$bin/mypy"
echo "== pytest"; "$bin/python" -m pytest "$@"
