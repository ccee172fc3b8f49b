#!/usr/bin/env bash
# quickstart.sh — deploy the quickstart map stack (PostGIS, MapServer, MapCache, gateway) to a
# local single-node Docker Swarm, installing and starting the engine first when it is missing.
# Extra arguments go to the deploy program (default: apply).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "quickstart.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
bash scripts/local-swarm.sh
if [ "$#" -eq 0 ]; then
  set -- apply
fi
exec go run ./examples/quickstart "$@"
