#!/usr/bin/env bash
# Set everything up (first run only) and run the whole test suite: lint, types, tests.
# Arguments go to pytest, e.g. scripts/test.sh tests/edge -k tracker.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# systemd: the unit-file tests run systemd-analyze (nothing is started).
# postgresql-15: scripts/services.sh runs its binaries for the cloud tests.
# chromium: the dashboard tests drive it headless through Playwright (no browser download).
# libgl1, libglib2.0-0: OpenCV (under the on-device OCR) loads them.
# libportaudio2: sounddevice loads it; the local-audio tests play and record through ALSA
# devices of their own (files, no sound card needed).
# espeak-ng: real speech (WAV files) for the barge-in tests.
# haproxy: the load balancer in front of two API processes in the rolling-restart test.
"$root/scripts/setup.sh" edge,ocr,cloud,dev systemd postgresql-15 chromium libgl1 libglib2.0-0 libportaudio2 espeak-ng haproxy
# checkov, for the CloudFormation template's checks, in a virtualenv of its own.
"$root/scripts/tools.sh"
cd "$root"
bin="$root/.venv/bin"

# The cloud tests need PostgreSQL and an S3-compatible server; stopped again however we exit
# (the trap keeps this script's exit status, so pytest's decides).
export STUDYLENS_SERVICES_DIR="${STUDYLENS_SERVICES_DIR:-$root/.services}"
trap '"$root/scripts/services.sh" stop' EXIT
"$root/scripts/services.sh" start
# shellcheck source=/dev/null
. "$STUDYLENS_SERVICES_DIR/env"

echo "== ruff"; "$bin/ruff" check . && "$bin/ruff" format --check .
echo "== mypy"; "$bin/mypy"
echo "== architecture"; "$bin/python" scripts/check_architecture.py
echo "== pytest"; "$bin/python" -m pytest "$@"
