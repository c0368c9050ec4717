#!/usr/bin/env bash
# Set everything up (first run only) and start the edge daemon on its embedded defaults:
# SQLite and files under ~/.local/share/studylens, http://127.0.0.1:8765.
# Arguments go to `studylens-edge serve`, e.g. --host 0.0.0.0 --port 9000 --data-dir /tmp/sl.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" edge
exec "$root/.venv/bin/studylens-edge" serve "$@"
