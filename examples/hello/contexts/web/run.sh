#!/bin/sh
# httpd runs in the background so that this shell, PID 1, can stop it on SIGTERM: the
# container then stops at once instead of after the grace period. It exits 143 (killed by
# SIGTERM), not 0: Swarm reports a task it stopped for being unhealthy as "complete", hiding
# the cause, when its container exits 0.
busybox httpd -f -v -p "${PORT}" -h /srv/www &
pid=$!
trap 'kill "$pid"; exit 143' TERM INT
wait "$pid"
