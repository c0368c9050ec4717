#!/usr/bin/env bash
# Prepare this checkout: Debian packages, a virtualenv in .venv, the project installed in it.
# Usage: scripts/setup.sh EXTRAS [DEBIAN_PACKAGE...]    e.g. scripts/setup.sh edge
# Idempotent: a second run with an unchanged pyproject.toml installs nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:?usage: scripts/setup.sh EXTRAS [DEBIAN_PACKAGE...]}"
shift
venv="${STUDYLENS_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "setup: need root (or sudo) to run: $*" >&2; exit 1
  fi
}

command -v "$python" >/dev/null || { echo "setup: $python not found; install Python 3.11+" >&2; exit 1; }
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "setup: Python 3.11 or newer is needed ($("$python" --version))" >&2; exit 1; }

missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Debian splits venv/ensurepip out of python3 itself.
if [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=(python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"

stamp="$venv/.studylens-installed-${extras//,/-}"
want="$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing studylens[$extras] into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root[$extras]"
  echo "$want" >"$stamp"
fi
