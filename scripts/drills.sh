#!/usr/bin/env bash
# drills.sh — run the reliability drills on the local single-node Swarm and print one line per
# drill with its figures: a rolling update of MapServer under WMS load (failed requests), SIGINT
# in the middle of an apply, docker kill of a MapServer and of the PostGIS task (time back), an
# update whose health never passes (rolled back), password rotations, docker stack rm then
# apply, and the rendered compose file deployed with docker stack deploy.
#
# The drills deploy a copy of the quickstart named "drills" (gateway on 127.0.0.1:38080) and
# remove it at the end. This is the long variant (KARGO_DRILLS_LONG=1: plain rolling update,
# three kills, password rotations); CI runs the short one as part of scripts/test.sh.
# Set KARGO_DRILLS_SHORT=1 for the CI variant. The full log is kept in $LOG.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "drills.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
bash scripts/local-swarm.sh
if [ -z "${KARGO_DRILLS_SHORT:-}" ]; then
  export KARGO_DRILLS_LONG=1
fi
LOG=${LOG:-/tmp/kargo-drills.log}
# Hold the engine lock when it exists (shared machines run one integration run at a time).
lock=()
if command -v flock >/dev/null; then
  lock=(flock /tmp/kargo-engine.lock)
fi
status=0
"${lock[@]}" go test -count=1 -v -run '^TestDrills$' -timeout 45m ./examples/quickstart/ >"$LOG" 2>&1 || status=$?
grep '^drill ' "$LOG" || true
if [ "$status" -ne 0 ]; then
  echo "drills.sh: a drill failed (exit $status); see $LOG" >&2
  grep -E '^\s+--- FAIL|_test.go:[0-9]+: ' "$LOG" | grep -v 'kargo: ' | tail -20 >&2 || true
fi
exit "$status"
