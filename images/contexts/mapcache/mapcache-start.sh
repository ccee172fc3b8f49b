#!/bin/sh
# Start Apache with MapCache. The lock directory lives on the cache volume, so every
# container sharing the volume (the cache service's tasks, the seeding job) locks the same
# tiles; make it (owned by www-data, which Apache runs as) when a volume made before it lacks it.
set -e
install -d -o www-data -g www-data /var/cache/mapcache/.locks
exec apache2ctl -DFOREGROUND "$@"
