#!/bin/sh
# Start Apache with MapCache. The lock directory lives on the cache volume, so every
# container sharing the volume (the cache service's tasks, the seeding job) locks the same
# tiles; make it (owned by www-data, which Apache runs as) when a volume made before it lacks it.
set -e
install -d -o www-data -g www-data /var/cache/mapcache/.locks
# Apache's figures for Prometheus on :9117, read from mod_status on the loopback, as nobody.
setpriv --reuid=nobody --regid=nogroup --clear-groups prometheus-apache-exporter --telemetry.address=:9117 \
	--scrape_uri='http://127.0.0.1:8079/server-status?auto' --log.level=warn &
exec apache2ctl -DFOREGROUND "$@"
