#!/usr/bin/env bash
# local-cluster.sh up|down|status — a real three-node Docker Swarm on this one machine, beside
# (and independent of) the single-node Swarm of the quick start.
#
# Each node is a Docker engine in its own network namespace (k1..k3) and UTS namespace
# (hostname kargo-n1..kargo-n3), with its own data root, exec root and socket
# (/run/docker-k<i>.sock), on a bridge br-k with the project's test addresses 10.199.0.1-3:
# kargo-n1 is the manager, kargo-n2 and kargo-n3 are workers. The host keeps 10.199.0.254 on
# the bridge and masquerades the nodes' outbound traffic, the same way the host engine's own
# containers reach the Debian mirror, so images build on the manager.
#
# `up` also loads the base image debian:bookworm-slim into the manager (it is made on the
# host engine by local-swarm.sh) and deploys the image registry (cmd/kargo-registry) on the
# manager at 10.199.0.1:5000. Every engine trusts that address: they run with
# --insecure-registry 10.199.0.0/24 (plain HTTP on the private bridge, nothing leaves the
# machine). The manager starts tasks from its local images without asking a registry
# (DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: it builds them, and it runs the registry itself);
# the workers pull every Kargo image from the registry.
#
# Idempotent: `up` only does what is missing; `down` stops the engines, deletes their data,
# the namespaces, the bridge and the iptables rules; `status` prints the nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

# KARGO_CLUSTER_SIZE=1 makes a single-node Swarm the same way (for figures next to the
# three-node ones); down always removes all three.
mapfile -t NODES < <(seq 1 "${KARGO_CLUSTER_SIZE:-3}")
ALL_NODES=(1 2 3)
BRIDGE=br-k
HOST_ADDR=10.199.0.254
SUBNET=10.199.0.0/24
REGISTRY=10.199.0.1:5000

log() { printf 'local-cluster: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "must run as root (network namespaces, bridge, iptables)"; exit 1; }

sock() { echo "unix:///run/docker-k$1.sock"; }
dk() { local i=$1; shift; DOCKER_HOST=$(sock "$i") docker "$@"; }
answers() { dk "$1" info >/dev/null 2>&1; }
state() {
  local s
  if s=$(dk "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null) && [ -n "$s" ]; then echo "$s"; else echo down; fi
}

# rules are the host iptables rules of the cluster (table, chain, rule), added by up and
# removed by down. The host engine sets FORWARD to DROP and bridged frames traverse
# iptables, so the nodes need an explicit accept to reach each other and the outside.
RULES=(
  "filter DOCKER-USER -i $BRIDGE -o $BRIDGE -j ACCEPT"
  "filter DOCKER-USER -i $BRIDGE ! -o $BRIDGE -j ACCEPT"
  "filter DOCKER-USER -o $BRIDGE -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
  "nat POSTROUTING -s $SUBNET ! -o $BRIDGE -j MASQUERADE"
)

rules_up() {
  iptables -L DOCKER-USER -n >/dev/null 2>&1 || iptables -N DOCKER-USER
  iptables -C FORWARD -j DOCKER-USER >/dev/null 2>&1 || iptables -I FORWARD -j DOCKER-USER
  for r in "${RULES[@]}"; do
    read -r table chain rest <<<"$r"
    # shellcheck disable=SC2086
    iptables -t "$table" -C "$chain" $rest >/dev/null 2>&1 || iptables -t "$table" -I "$chain" $rest
  done
}

rules_down() {
  for r in "${RULES[@]}"; do
    read -r table chain rest <<<"$r"
    # shellcheck disable=SC2086
    while iptables -t "$table" -C "$chain" $rest >/dev/null 2>&1; do iptables -t "$table" -D "$chain" $rest; done
  done
}

net_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$HOST_ADDR/24" dev "$BRIDGE"
    log "bridge $BRIDGE $HOST_ADDR/24"
  fi
  ip link set "$BRIDGE" up
  rules_up
  for i in "${NODES[@]}"; do
    if ! ip netns list | grep -qw "k$i"; then
      ip netns add "k$i"
      log "namespace k$i"
    fi
    if ! ip link show "vk$i" >/dev/null 2>&1; then
      ip link add "vk$i" type veth peer name "ek$i"
      ip link set "ek$i" netns "k$i"
    fi
    ip link set "vk$i" master "$BRIDGE"
    ip link set "vk$i" up
    ip netns exec "k$i" ip link set lo up
    ip netns exec "k$i" ip addr replace "10.199.0.$i/24" dev "ek$i"
    ip netns exec "k$i" ip link set "ek$i" up
    ip netns exec "k$i" ip route replace default via "$HOST_ADDR"
  done
}

engine_up() {
  local i=$1
  if answers "$i"; then return; fi
  local env=""
  # The manager builds the images and runs the registry: it starts tasks from local images.
  [ "$i" = 1 ] && env="DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1"
  # A dockerd that died leaves its containerd socket behind and would hang on it.
  rm -f "/run/docker-k$i/containerd/containerd.sock" "/run/docker-k$i.pid"
  log "starting engine k$i (kargo-n$i, log /var/log/dockerd-k$i.log)"
  # nsenter, not `ip netns exec` (which would lose the cgroup mounts dockerd needs).
  nsenter --net="/var/run/netns/k$i" unshare --uts sh -c "hostname kargo-n$i; exec env $env setsid dockerd \
    --data-root /var/lib/docker-k$i --exec-root /run/docker-k$i --pidfile /run/docker-k$i.pid \
    -H $(sock "$i") --insecure-registry $SUBNET" >"/var/log/dockerd-k$i.log" 2>&1 </dev/null &
}

engines_wait() {
  for i in "${NODES[@]}"; do
    for _ in $(seq 1 60); do answers "$i" && break; sleep 1; done
    answers "$i" || { log "engine k$i did not answer within 60s:"; tail -20 "/var/log/dockerd-k$i.log" >&2; exit 1; }
  done
}

swarm_up() {
  if [ "$(state 1)" != active ]; then
    log "swarm init on kargo-n1 (10.199.0.1)"
    dk 1 swarm init --advertise-addr 10.199.0.1 >/dev/null
  fi
  local token
  token=$(dk 1 swarm join-token -q worker)
  for i in "${NODES[@]:1}"; do
    for attempt in 1 2 3; do
      case "$(state "$i")" in
        active) break ;;
        pending) sleep 5; continue ;;
        error) dk "$i" swarm leave --force >/dev/null 2>&1 || true ;;
      esac
      log "kargo-n$i joins (attempt $attempt)"
      dk "$i" swarm join --token "$token" --advertise-addr "10.199.0.$i" 10.199.0.1:2377 >/dev/null 2>&1 || true
    done
    [ "$(state "$i")" = active ] || { log "kargo-n$i could not join the swarm: $(state "$i")"; exit 1; }
  done
}

base_image() {
  if dk 1 image inspect debian:bookworm-slim >/dev/null 2>&1; then return; fi
  if ! DOCKER_HOST= docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    log "the host engine has no debian:bookworm-slim: making it with local-swarm.sh"
    DOCKER_HOST= bash scripts/local-swarm.sh
  fi
  log "loading debian:bookworm-slim from the host engine into kargo-n1"
  DOCKER_HOST= docker save debian:bookworm-slim | dk 1 load >/dev/null
}

registry_up() {
  command -v go >/dev/null || { log "Go is needed to deploy the registry (go run ./cmd/kargo-registry)"; exit 1; }
  log "deploying the registry on kargo-n1 ($REGISTRY)"
  DOCKER_HOST=$(sock 1) go run ./cmd/kargo-registry apply >&2
}

hint() {
  cat <<EOF
cluster ready: ${#NODES[@]} node(s) (kargo-n1 manager 10.199.0.1, others workers), registry $REGISTRY
point Kargo at it:
  export DOCKER_HOST=$(sock 1) KARGO_REGISTRY=$REGISTRY
  QUICKSTART_NODE=kargo-n1 go run ./examples/quickstart apply   # or any deploy program
published host-mode ports answer on the node's address (10.199.0.1-3), e.g. http://10.199.0.1:8080/
tear down: bash scripts/local-cluster.sh down
EOF
}

up() {
  command -v dockerd >/dev/null || DOCKER_HOST= bash scripts/local-swarm.sh
  net_up
  for i in "${NODES[@]}"; do engine_up "$i"; done
  engines_wait
  swarm_up
  base_image
  registry_up
  status
  hint
}

status() {
  for i in "${NODES[@]}"; do
    local pid=""
    [ -f "/run/docker-k$i.pid" ] && pid=$(cat "/run/docker-k$i.pid")
    printf 'k%s  kargo-n%s  10.199.0.%s  engine %s  swarm %s\n' "$i" "$i" "$i" \
      "$(answers "$i" && echo "up (pid $pid)" || echo down)" "$(state "$i")"
  done
  if [ "$(state 1)" = active ]; then
    dk 1 node ls --format '{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}' | sed 's/^/  /'
  fi
}

# unmount_under lazily unmounts whatever an engine left mounted under a directory.
unmount_under() {
  awk -v d="$1" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

down() {
  NODES=("${ALL_NODES[@]}")
  for i in "${NODES[@]:1}"; do
    answers "$i" && dk "$i" swarm leave --force >/dev/null 2>&1 || true
  done
  answers 1 && dk 1 swarm leave --force >/dev/null 2>&1 || true
  for i in "${NODES[@]}"; do
    local f="/run/docker-k$i.pid"
    if [ -f "$f" ]; then
      local pid
      pid=$(cat "$f")
      if kill -0 "$pid" 2>/dev/null; then
        log "stopping engine k$i (pid $pid)"
        kill "$pid"
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -0 "$pid" 2>/dev/null && { log "engine k$i still running after 30s: SIGKILL"; kill -9 "$pid"; sleep 1; }
      fi
      rm -f "$f"
    fi
    unmount_under "/run/docker-k$i"
    unmount_under "/var/lib/docker-k$i"
    rm -rf "/run/docker-k$i" "/var/lib/docker-k$i" "/run/docker-k$i.sock"
    ip link del "vk$i" 2>/dev/null || true
    ip netns del "k$i" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  rules_down
  log "cluster removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
