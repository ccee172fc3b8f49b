#!/usr/bin/env bash
# local-swarm.sh — bring up a single-node Docker Swarm on this machine, idempotently.
#
# Installs docker.io and debootstrap from Debian when missing, starts dockerd when it is not
# answering (there is no systemd on these machines), initialises a single-node Swarm, and
# creates the local debian:bookworm-slim base image with debootstrap when it is missing
# (no registry can be reached, so every runnable image is built from Debian packages on it).
# Prints what it did. Exits non-zero when the engine cannot be brought up.
set -euo pipefail

log() { printf 'local-swarm: %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "installing $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A remote engine is the user's to run: check it, change nothing there.
case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
  unix:///var/run/docker.sock|unix:///run/docker.sock) ;;
  *)
    state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null) || state=unreachable
    if [ "$state" != "active" ]; then
      log "DOCKER_HOST=${DOCKER_HOST} is not a local engine and its swarm is ${state}; set it up there (docker swarm init)"
      exit 1
    fi
    log "DOCKER_HOST=${DOCKER_HOST}: swarm active, nothing to set up"
    exit 0
    ;;
esac

# 1. Engine binaries.
if ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io
else
  log "dockerd present: $(command -v dockerd)"
fi
for tool in debootstrap iptables; do
  command -v "$tool" >/dev/null 2>&1 || apt_install "$tool"
done

# 2. Daemon. DOCKER_HOST is honoured; only the local default socket is started here.
if docker info >/dev/null 2>&1; then
  log "engine answering"
else
  log "starting dockerd (log: /var/log/dockerd.log)"
  # Local images have no registry digest: start tasks from them without asking a registry.
  # The daemon outlives this script: it must not inherit the caller's other open files (a
  # lock file held by a wrapping `flock` would stay locked for as long as dockerd runs).
  $SUDO bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"; done
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    log "dockerd did not answer within 60s; last log lines:"
    tail -20 /var/log/dockerd.log >&2 || true
    exit 1
  fi
  log "engine started"
fi

# 3. Swarm.
state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown)
if [ "$state" = "active" ]; then
  log "swarm already active"
else
  log "docker swarm init --advertise-addr ${KARGO_ADVERTISE_ADDR:-127.0.0.1}"
  docker swarm init --advertise-addr "${KARGO_ADVERTISE_ADDR:-127.0.0.1}" >/dev/null
fi

# 4. Base image.
if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  log "base image debian:bookworm-slim present"
else
  mirror=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  fi
  [ -n "$mirror" ] || { log "no Debian mirror found in the apt configuration"; exit 1; }
  dir=$(mktemp -d /tmp/kargo-rootfs.XXXXXX)
  log "debootstrap bookworm into $dir (about 30s)"
  $SUDO debootstrap --variant=minbase bookworm "$dir" "$mirror" >/tmp/kargo-debootstrap.log 2>&1 || {
    log "debootstrap failed; see /tmp/kargo-debootstrap.log"; tail -20 /tmp/kargo-debootstrap.log >&2; exit 1; }
  # Images built on this base use the same mirror as the host.
  $SUDO rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  $SUDO tar -C "$dir" -c . | docker import - debian:bookworm-slim >/dev/null
  $SUDO rm -rf "$dir"
  log "base image debian:bookworm-slim created"
fi
log "ready: $(docker info --format 'engine {{.ServerVersion}}, swarm {{.Swarm.LocalNodeState}}, node {{.Swarm.NodeID}}')"
