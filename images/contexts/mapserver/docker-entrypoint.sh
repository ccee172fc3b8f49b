#!/bin/bash
# Entry point of kargo/mapserver.
set -euo pipefail

# A libpq password file from a secret, so mapfiles connect without a password in them.
# PGPASSWORD_FILE names the secret file; PGPASS_HOST/PORT/DATABASE/USER restrict the entry
# (default: any). mapserv finds it through PGPASSFILE.
if [ -n "${PGPASSWORD_FILE:-}" ]; then
	pw="$(< "$PGPASSWORD_FILE")"
	esc() { local v="${1//\\/\\\\}"; printf '%s' "${v//:/\\:}"; }
	umask 077
	mkdir -p "$(dirname "$PGPASSFILE")"
	printf '%s:%s:%s:%s:%s\n' "$(esc "${PGPASS_HOST:-*}")" "$(esc "${PGPASS_PORT:-*}")" \
		"$(esc "${PGPASS_DATABASE:-*}")" "$(esc "${PGPASS_USER:-*}")" "$(esc "$pw")" > "$PGPASSFILE"
	chown www-data:www-data "$PGPASSFILE" 2>/dev/null || true
	chmod 600 "$PGPASSFILE"
	unset pw
	umask 022
fi

# Executable scripts in /docker-entrypoint.d run in order (sourced when not executable).
shopt -s nullglob
for f in /docker-entrypoint.d/*; do
	case "$f" in
		*.sh) echo "kargo/mapserver: running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
		*) echo "kargo/mapserver: ignoring $f" ;;
	esac
done
shopt -u nullglob

if [ -d /etc/mapserver/fonts ]; then
	fc-cache -f /etc/mapserver/fonts >/dev/null 2>&1 || true
fi

if [ "${1:-}" = start-server ]; then
	if [ "$(id -u)" = 0 ]; then
		export LISTEN_PORT="${LISTEN_PORT:-80}"
	else
		export LISTEN_PORT="${LISTEN_PORT:-8080}"
		export APACHE_RUN_DIR=/tmp/apache2 APACHE_PID_FILE=/tmp/apache2/apache2.pid APACHE_LOCK_DIR=/tmp/apache2
	fi
	export HOSTNAME="${HOSTNAME:-$(hostname)}"
	set +u
	# shellcheck disable=SC1091
	. /etc/apache2/envvars
	set -u
	mkdir -p "${APACHE_RUN_DIR:-/var/run/apache2}" "${APACHE_LOCK_DIR:-/var/lock/apache2}"
	# mod_cgid's socket (the OGC API items wrapper runs as a CGI).
	mkdir -p "${APACHE_RUN_DIR:-/var/run/apache2}/socks"
	chown "${APACHE_RUN_USER:-www-data}" "${APACHE_RUN_DIR:-/var/run/apache2}/socks" 2>/dev/null || true
	rm -f "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}"
	# Apache's figures for Prometheus on :9117, as nobody (the container's user otherwise).
	exporter="prometheus-apache-exporter --telemetry.address=:9117 --scrape_uri=http://127.0.0.1:8079/server-status?auto --log.level=warn"
	if [ "$(id -u)" = 0 ]; then
		# shellcheck disable=SC2086
		setpriv --reuid=nobody --regid=nogroup --clear-groups $exporter &
	else
		# shellcheck disable=SC2086
		$exporter &
	fi
	exec /usr/sbin/apache2 -DFOREGROUND
fi
exec "$@"
