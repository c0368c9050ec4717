#!/usr/bin/env bash
# Replace the dashboard's vendored Chart.js with a release from the npm registry.
# Usage: scripts/update-chartjs.sh 4.6.1
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${1:?usage: scripts/update-chartjs.sh VERSION}"
vendor="$root/edge/dashboard/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "chart.js@$version" >/dev/null && tar xzf "chart.js-$version.tgz")
cp "$work/package/dist/chart.umd.min.js" "$vendor/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$vendor/chart.js-LICENSE.md"
echo "chart.js $version: $(sha256sum "$vendor/chart.umd.min.js" | cut -d' ' -f1); update SOURCES.md"
