#!/usr/bin/env bash
# Make the release artifact the CloudFormation stack installs: a tarball with exactly one wheel,
# the systemd unit, the dependency versions to install and their checksums.
#
# Usage: deploy/aws/bundle.sh [WHEEL]
#   WHEEL  default dist/studylens-VERSION-py3-none-any.whl (what scripts/release.sh builds),
#          VERSION from pyproject.toml
# Writes studylens-cloud-VERSION.tar.gz next to the wheel and prints its path. Upload it with
#   aws s3 cp dist/studylens-cloud-VERSION.tar.gz s3://RELEASE_BUCKET/releases/
# constraints.txt pins every dependency to the version in the project's virtualenv (the one the
# test suite ran with; PYTHON=... to take another), so every instance of a release, whenever it
# boots, installs the same set.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
version="$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$root/pyproject.toml")"
wheel="${1:-$root/dist/studylens-$version-py3-none-any.whl}"
name="$(basename "$wheel")"
if [ ! -f "$wheel" ]; then
  echo "bundle: no wheel $wheel (scripts/release.sh builds it)" >&2
  exit 1
fi
if [ "$(echo "$name" | cut -d- -f2)" != "$version" ]; then
  echo "bundle: $name is not version $version of pyproject.toml" >&2
  exit 1
fi
out="$(cd "$(dirname "$wheel")" && pwd)/studylens-cloud-$version.tar.gz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp "$wheel" "$work/$name"
cp "$root/systemd/studylens-cloud.service" "$work/"
# Plain name==version lines only (no editable checkout, no local paths), never the project itself.
"$python" -m pip freeze --exclude-editable --disable-pip-version-check |
  grep -E '^[A-Za-z0-9][A-Za-z0-9._-]*==' | grep -viE '^studylens==' >"$work/constraints.txt"
(cd "$work" && sha256sum "$name" studylens-cloud.service constraints.txt >SHA256SUMS)
tar -czf "$out" -C "$work" --owner=0 --group=0 "$name" studylens-cloud.service constraints.txt SHA256SUMS
echo "$out"
