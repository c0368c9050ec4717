#!/usr/bin/env bash
# Mutation testing by hand (too slow for CI): plant small bugs in the modules whose bugs cost the
# most and count how many the tests catch. Scores go into TESTING.md.
#
# Usage: scripts/mutation.sh [GROUP...]     groups: voice topics frames pairing sync cloud memory
#                                           (default: all of them)
# Each group runs mutmut (installed into .venv on first use) in its own copy of the committed
# tree under .mutation/GROUP, so the working tree is never touched. The sync and cloud groups
# need the test services (PostgreSQL, the S3 server): started here in a folder of their own
# unless STUDYLENS_TEST_DATABASE_URL is already set, and stopped at the end.
# Survivors of a group: `cd .mutation/GROUP && ../../.venv/bin/mutmut results`, then
# `mutmut show NAME` for one of them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${STUDYLENS_VENV:-$root/.venv}"
"$root/scripts/setup.sh" edge,ocr,cloud,dev
[ -x "$venv/bin/mutmut" ] || "$venv/bin/python" -m pip install -q --disable-pip-version-check "mutmut==3.8.1"

# group -> "modules to mutate (globs) | tests that guard them"
declare -A groups=(
  [voice]="edge/voice/audio.py edge/voice/backpressure.py edge/voice/playback.py edge/voice/relay.py | tests/edge/voice"
  [topics]="edge/topics/* edge/sessions/* | tests/edge/topics tests/edge/sessions tests/edge/http/test_sessions_routes.py tests/edge/http/test_analytics_routes.py tests/edge/frames/test_session_race.py"
  [frames]="edge/frames/dedupe.py | tests/edge/frames/test_duplicate_gate.py"
  [pairing]="edge/pairing.py edge/lockout.py edge/http/auth.py | tests/edge/test_pairing.py tests/edge/test_lockout.py tests/edge/http tests/edge/dashboard/test_dashboard_api.py"
  [sync]="edge/sync/outbox.py edge/sync/worker.py | tests/edge/sync"
  [memory]="edge/memory/scheduler.py edge/memory/records.py edge/memory/review.py edge/memory/pages.py edge/memory/cloze.py edge/memory/making.py edge/report/weekly.py | tests/edge/memory tests/edge/report tests/edge/http/test_memory_routes.py tests/edge/cli/test_memory_cli.py"
  [cloud]="cloud/auth.py cloud/tokens.py cloud/ingest.py cloud/identity.py | tests/cloud/test_auth.py tests/cloud/test_access_tokens.py tests/cloud/test_admin.py tests/cloud/test_ingest.py tests/cloud/test_identity.py tests/cloud/test_sync_bounds.py tests/cloud/test_route_walk.py"
)
order=(voice topics frames pairing sync cloud memory)
[ "$#" -gt 0 ] && order=("$@")

if [[ " ${order[*]} " =~ \ (sync|cloud)\  ]] && [ -z "${STUDYLENS_TEST_DATABASE_URL:-}" ]; then
  export STUDYLENS_SERVICES_DIR="$root/.mutation/services"
  "$root/scripts/services.sh" start
  trap '"$root/scripts/services.sh" stop' EXIT
  # shellcheck disable=SC1091  # written by services.sh
  . "$STUDYLENS_SERVICES_DIR/env"
fi

summary=()
for group in "${order[@]}"; do
  spec="${groups[$group]:?unknown group $group (one of: ${!groups[*]})}"
  modules="${spec%%|*}"
  tests="${spec#*|}"
  work="$root/.mutation/$group"
  rm -rf "$work" && mkdir -p "$work"
  git -C "$root" archive HEAD | tar -x -C "$work"
  {
    echo "[mutmut]"
    printf 'source_paths=\n  edge\n  cloud\n  shared\n'
    echo "only_mutate="; for m in $modules; do echo "  $m"; done
    echo "pytest_add_cli_args_test_selection="; for t in $tests; do echo "  $t"; done
    # One worker per core, each forked from a warm pytest; a hung mutant is a kill by timeout.
    echo "timeout_multiplier=10.0"
  } >"$work/setup.cfg"
  echo "== mutation: $group ($modules)"
  (cd "$work" && "$venv/bin/mutmut" run >"$work/run.log" 2>&1) || {
    echo "mutmut failed for $group; see $work/run.log" >&2; exit 1; }
  summary+=("$("$venv/bin/python" - "$work" <<'EOF'
import json, sys
from collections import Counter
from pathlib import Path

work = Path(sys.argv[1])
rows = []
for meta in sorted((work / "mutants").rglob("*.py.meta")):
    codes = Counter(json.loads(meta.read_text())["exit_code_by_key"].values())
    total = sum(codes.values())
    if not total:
        continue
    # mutmut's exit codes: 0 survived, 33 no test covers it, 34 skipped, 36/24/-24 timeout,
    # None not run (the run was stopped), anything else (1, 3, signals): the tests failed, killed.
    survived, untested, not_run = codes[0], codes[33], codes[None]
    timeouts = codes[36] + codes[24] + codes[-24]
    killed = total - survived - untested - codes[34] - not_run
    module = str(meta.relative_to(work / "mutants")).removesuffix(".meta")
    score = 100 * killed / max(1, total - codes[34] - not_run)
    rows.append(
        f"| `{module}` | {total} | {killed} ({timeouts} by timeout) | {survived} | {untested}"
        f" | {not_run} | {score:.0f}% |"
    )
print("\n".join(rows))
EOF
)")
done

echo
echo "| module | mutants | killed | survived | no test | not run | score |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
