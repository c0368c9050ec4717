#!/usr/bin/env bash
# Set everything up (first run only) and start the edge daemon on its embedded defaults:
# SQLite and files under ~/.local/share/studylens, port 8765, advertised by mDNS, and the
# on-device analyser for frames unless an OpenAI key is set.
# Arguments go to `studylens-edge serve`, e.g. --host 127.0.0.1 --port 9000 --data-dir /tmp/sl.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# libgl1, libglib2.0-0: OpenCV (under the OCR) loads them.
"$root/scripts/setup.sh" edge,ocr libgl1 libglib2.0-0
exec "$root/.venv/bin/studylens-edge" serve "$@"
