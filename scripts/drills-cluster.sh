#!/usr/bin/env bash
# drills-cluster.sh [--short | --single-node] — operations drills of the quickstart on the
# three-node Swarm of scripts/local-cluster.sh (brought up when missing). One line per drill,
# with its figures:
#
#   cold-apply  the quickstart applied on a cluster just made (images built on the manager,
#               pushed to the registry, pulled by the workers), timed. --short keeps a running
#               cluster and its images and only removes the stack (a warm apply); without a
#               running cluster it makes one, as the full run does.
#   drain       under steady WMS GetMap load through the gateway, `drain` of a worker running a
#               MapServer replica: failed requests (the goal is 0), time until the stack's tasks
#               run elsewhere and every endpoint answers; then `undrain`.
#   node-loss   a worker running a MapServer replica loses its engine (stopped): time until
#               MapServer is back to count on the other nodes and answers, failed requests under
#               the same load meanwhile; then the engine is started again and the node rejoins.
#
# --single-node only times the cold apply on a fresh one-node Swarm made the same way, for the
# figure next to the cluster's (it removes the three-node cluster).
#
# Load is bounded: at most LOAD_MAX requests (default 3000) and LOAD_SECONDS (default 120) per
# drill, one request at a time, to the gateway on 10.199.0.1 only.
# Exit status: non-zero when a drill fails its goal.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

SHORT=0
[ "${1:-}" = "--short" ] && SHORT=1
if [ "${1:-}" = "--single-node" ]; then
  # The single-node figure next to the cluster's: the quickstart's cold apply on a fresh
  # one-node Swarm made the same way (an engine in a namespace), without a registry.
  go build -o /tmp/kargo-drills-quickstart ./examples/quickstart
  bash scripts/local-cluster.sh down >/dev/null 2>&1 || true
  KARGO_CLUSTER_SIZE=1 bash scripts/local-cluster.sh up >/dev/null 2>/tmp/kargo-drills-up.log
  t=$(date +%s.%N)
  if DOCKER_HOST=unix:///run/docker-k1.sock /tmp/kargo-drills-quickstart apply >/dev/null 2>/tmp/kargo-drills-apply.log; then
    echo "drill cold-apply single-node: ok $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s (fresh one-node Swarm, images built on it)"
  else
    echo "drill cold-apply single-node: FAILED: $(tail -3 /tmp/kargo-drills-apply.log | tr '\n' ' ')"
    exit 1
  fi
  bash scripts/local-cluster.sh down >/dev/null 2>&1
  exit 0
fi
LOAD_MAX=${LOAD_MAX:-3000}
LOAD_SECONDS=${LOAD_SECONDS:-120}
export DOCKER_HOST=unix:///run/docker-k1.sock KARGO_REGISTRY=10.199.0.1:5000 QUICKSTART_NODE=kargo-n1
GATEWAY=http://10.199.0.1:8080
WMS="$GATEWAY/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=roads,cities&STYLES=&CRS=EPSG:4326&BBOX=41,-5,52,10&WIDTH=256&HEIGHT=256&FORMAT=image/png"

work=$(mktemp -d /tmp/kargo-drills.XXXXXX)
load_pid=""
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf 'drills: %s\n' "$*" >&2; }
status=0
result() { printf '%s\n' "$*"; }
fail() { result "$*"; status=1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

go build -o "$work/quickstart" ./examples/quickstart
qs() { "$work/quickstart" "$@"; }

# load FILE: one GetMap at a time until $work/stop exists or the bounds are reached; one line
# per request: HTTP code and content type (a MapServer error is a 200 with an XML body).
load() {
  local out=$1 n=0 end=$((SECONDS + LOAD_SECONDS))
  rm -f "$work/stop"
  while [ "$n" -lt "$LOAD_MAX" ] && [ "$SECONDS" -lt "$end" ] && [ ! -e "$work/stop" ]; do
    curl -s -o /dev/null -m 10 -w '%{http_code} %{content_type}\n' "$WMS" >>"$out" 2>/dev/null || echo "000 none" >>"$out"
    n=$((n + 1))
  done
}
load_start() { : >"$1"; load "$1" & load_pid=$!; sleep 2; }
load_stop() { touch "$work/stop"; wait "$load_pid" 2>/dev/null || true; load_pid=""; }
failed() { grep -vc '^200 image/png' "$1" || true; }
total() { wc -l <"$1" | tr -d ' '; }

mapserver_nodes() { docker service ps quickstart_mapserver --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | awk '$2=="Running"{print $1}' | sort; }
running_count() { mapserver_nodes | wc -l | tr -d ' '; }
worker_with_mapserver() { mapserver_nodes | grep -v '^kargo-n1$' | head -1; }
wms_ok() { [ "$(curl -s -o /dev/null -m 5 -w '%{http_code} %{content_type}' "$WMS" 2>/dev/null)" = "200 image/png" ]; }

# cold-apply
if [ "$SHORT" = 1 ] && docker info >/dev/null 2>&1; then
  bash scripts/local-cluster.sh up >/dev/null 2>"$work/up.log" || { cat "$work/up.log" >&2; exit 1; }
  qs rm --volumes >/dev/null 2>&1 || true
  sleep 5 # the engines release the stack's networks
  kind="warm (cluster and images kept, stack removed)"
  up_time="kept"
else
  bash scripts/local-cluster.sh down >/dev/null 2>&1 || true
  t=$(now)
  bash scripts/local-cluster.sh up >/dev/null 2>"$work/up.log" || { cat "$work/up.log" >&2; exit 1; }
  up_time="$(since "$t")s"
  kind="cold (fresh cluster: images built on kargo-n1, pushed, pulled by the workers)"
fi
t=$(now)
if qs apply >"$work/apply.out" 2>"$work/apply.log"; then
  result "drill cold-apply: ok $(since "$t")s, $kind; cluster up $up_time"
else
  fail "drill cold-apply: FAILED after $(since "$t")s: $(tail -3 "$work/apply.log" | tr '\n' ' ')"
  exit 1
fi

# drain
node=$(worker_with_mapserver)
if [ -z "$node" ]; then
  fail "drill drain: no worker runs a MapServer replica ($(mapserver_nodes | tr '\n' ' '))"
else
  load_start "$work/drain.load"
  t=$(now)
  if qs drain "$node" --timeout 3m >"$work/drain.out" 2>"$work/drain.log"; then
    drained="$(since "$t")s"
    sleep 5 # keep the load on the new placement a little
    load_stop
    f=$(failed "$work/drain.load")
    where=$(mapserver_nodes | tr '\n' ',' | sed 's/,$//')
    line="drill drain $node: $f failed of $(total "$work/drain.load") GetMap; tasks moved and endpoints ready in $drained; mapserver now on $where"
    if [ "$f" = 0 ] && ! mapserver_nodes | grep -qx "$node"; then result "$line"; else fail "$line (FAILED)"; fi
  else
    load_stop
    fail "drill drain $node: FAILED: $(tail -3 "$work/drain.log" | tr '\n' ' ')"
  fi
  qs undrain "$node" >/dev/null && result "drill undrain $node: ok, $(docker node inspect "$node" --format '{{.Spec.Availability}}')"
fi

# node-loss
node=$(worker_with_mapserver)
if [ -z "$node" ]; then
  fail "drill node-loss: no worker runs a MapServer replica ($(mapserver_nodes | tr '\n' ' '))"
else
  i=${node#kargo-n}
  want=$(docker service inspect quickstart_mapserver --format '{{.Spec.Mode.Replicated.Replicas}}')
  load_start "$work/loss.load"
  t=$(now)
  pid=$(cat "/run/docker-k$i.pid")
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  stopped="$(since "$t")s"
  recovered=""
  for _ in $(seq 1 180); do
    if [ "$(running_count)" -ge "$want" ] && ! mapserver_nodes | grep -qx "$node" && wms_ok; then
      recovered=$(since "$t")
      break
    fi
    sleep 1
  done
  load_stop
  f=$(failed "$work/loss.load")
  down_seen=$(docker node inspect "$node" --format '{{.Status.State}}')
  if [ -n "$recovered" ]; then
    result "drill node-loss $node: mapserver $want/$want on $(mapserver_nodes | tr '\n' ',' | sed 's/,$//') and answering ${recovered}s after the engine was stopped (engine gone after $stopped, node $down_seen); $f failed of $(total "$work/loss.load") GetMap meanwhile"
  else
    fail "drill node-loss $node: FAILED: mapserver not back to $want within 180s ($(mapserver_nodes | tr '\n' ' '))"
  fi
  t=$(now)
  bash scripts/local-cluster.sh up >/dev/null 2>"$work/up2.log" || true
  for _ in $(seq 1 60); do [ "$(docker node inspect "$node" --format '{{.Status.State}}')" = ready ] && break; sleep 1; done
  result "drill node-back $node: engine restarted, node $(docker node inspect "$node" --format '{{.Status.State}}') after $(since "$t")s"
fi
exit "$status"
