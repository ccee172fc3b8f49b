#!/usr/bin/env bash
# bench.sh — measure Kargo on the local single-node Swarm and write docs/benchmarks.md and
# docs/benchmarks.png (see that page). Arguments go to cmd/kargo-bench: --quick for a smoke
# run (under 3 minutes), --only 2,4 for some measures, --out FILE.
# The benchmark deploys stacks, so it runs under the engine lock that the tests share.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "bench.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
bash scripts/local-swarm.sh
bin="$(mktemp -d)/kargo-bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/kargo-bench
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^?? \|docs/benchmarks' || true)" ]; then
  commit="$commit+changes"
fi
flock /tmp/kargo-engine.lock "$bin" --commit "$commit" "$@"
