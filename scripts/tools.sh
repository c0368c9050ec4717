#!/usr/bin/env bash
# Tools the tests run that must not share the project's virtualenv: each in its own under
# .tools/NAME, pinned, installed on the first run only. checkov pins boto3, botocore and
# packaging to versions older than ours, so it lives apart.
# Usage: scripts/tools.sh            (install every tool below)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"

tool() {  # tool NAME REQUIREMENT
  local name="$1" requirement="$2" venv="$root/.tools/$1"
  if [ "$(cat "$venv/.installed" 2>/dev/null)" = "$requirement" ]; then return; fi
  echo "tools: installing $requirement into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$requirement"
  echo "$requirement" >"$venv/.installed"
}

tool checkov "checkov==3.3.30"
