#!/usr/bin/env bash
# test.sh — run every Kargo test: unit tests, examples, and the integration tests that deploy
# stacks on a real local single-node Swarm (brought up by scripts/local-swarm.sh, which
# installs and starts what is missing). Integration tests fail, never skip, without an engine.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }

bash scripts/local-swarm.sh

# OWSLib, an OGC client nobody here wrote, reads the quickstart's OGC API – Features:
# Debian's python3-owslib, run with Debian's /usr/bin/python3.
if ! /usr/bin/python3 -c 'import owslib.ogcapi.features' >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test.sh: installing python3-owslib" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-owslib >/dev/null
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
# The engine-free core under the race detector: Apply works on services in parallel.
go test -count=1 -race ./stack/ ./swarmx/ ./kargotest/ ./ogc/ ./images/ .
# Every fuzz target for a short, bounded time; longer by hand: FUZZTIME=10m bash scripts/fuzz.sh
FUZZTIME=10s bash scripts/fuzz.sh
# Smoke run of the benchmarks (about 3 minutes): it fails only when a measure cannot be taken,
# never on a time; the report goes to a temporary file, not docs/benchmarks.md.
bench_out="$(mktemp -d)"
bash scripts/bench.sh --quick --out "$bench_out/benchmarks.md"
rm -rf "$bench_out"
# The three-node Swarm (engines in network namespaces, a registry every node pulls from): the
# short cluster drills (cold apply, drain under load, losing a worker; about 5 minutes), then
# the cluster is taken down. The long variant: bash scripts/drills.sh cluster
bash scripts/drills.sh cluster --short
bash scripts/local-cluster.sh down
# One package at a time: integration tests of different packages share the Swarm and the
# machine's two cores.
go test -count=1 -p 1 -timeout 85m "$@" ./...
