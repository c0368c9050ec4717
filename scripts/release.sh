#!/usr/bin/env bash
# Build the cloud's release: the wheel the CloudFormation template (deploy/aws) installs, and the
# tarball the template fetches, made of that wheel by deploy/aws/bundle.sh (its format is the
# installer's: the wheel, the systemd unit, pinned dependency versions, SHA256SUMS).
#
# Usage: scripts/release.sh
#   PYTHON             interpreter that has `build` (default: .venv/bin/python, else python3);
#                      bundle.sh pins the dependency versions installed in it
#   SOURCE_DATE_EPOCH  timestamps inside the wheel (default: the last commit's time)
#
# Writes into dist/, and prints on stdout, one path a line (progress goes to stderr):
#   dist/studylens-<version>-py3-none-any.whl
#   dist/studylens-cloud-<version>.tar.gz
# <version> is pyproject.toml's. Upload the tarball where the stack's release parameters point.
#
# The wheel is built by `python -m build --wheel` (isolated: setuptools comes from the package
# registry) from a copy of the checkout, so leftovers in build/ never reach it: the files git
# tracks or would add (uncommitted changes are named on stderr), or without git every file but
# caches, virtualenvs and earlier builds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
bundle="$root/deploy/aws/bundle.sh"

say() { echo "release: $*" >&2; }
die() { say "$*"; exit 1; }

version="$("$python" -c '
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f)["project"]["version"])' "$root/pyproject.toml")"
[ -f "$bundle" ] || die "deploy/aws/bundle.sh (the template's release format) is missing"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/src" "$stage/wheel"

if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  if [ -n "$(git -C "$root" status --porcelain)" ]; then
    say "warning: this release holds uncommitted changes:"
    git -C "$root" status --short >&2
  fi
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct)}"
  # Tracked files deleted in the work tree are not there to copy.
  git -C "$root" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' file; do [ -e "$root/$file" ] && printf '%s\0' "$file"; done \
    | tar -C "$root" --null -T - -cf - | tar -C "$stage/src" -xf -
else
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(date +%s)}"
  tar -C "$root" --exclude=./.git --exclude=./.venv --exclude=./dist --exclude=./build \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=./.services --exclude=./.mutation \
    -cf - . | tar -C "$stage/src" -xf -
fi

say "building the wheel of version $version"
"$python" -m build --wheel --outdir "$stage/wheel" "$stage/src" >&2
wheels=("$stage/wheel"/studylens-"$version"-*.whl)
[ "${#wheels[@]}" -eq 1 ] && [ -f "${wheels[0]}" ] || die "expected one wheel of $version, got: ${wheels[*]}"
wheel="$(basename "${wheels[0]}")"

mkdir -p "$root/dist"
cp "${wheels[0]}" "$root/dist/$wheel"
echo "$root/dist/$wheel"
PYTHON="$python" bash "$bundle" "$root/dist/$wheel"
