#!/bin/sh
# Kargo's PostGIS backup job (services/pgbackup). Commands:
#   backup          pg_dump -Fc of $PGDATABASE into $KARGO_BACKUP_DIR, then prune old dumps
#   restore [NAME]  pg_restore --clean --if-exists of NAME (default: the latest dump), one transaction
#   list            the dumps in the volume, newest first
# The password is read from the secret file $KARGO_PASSWORD_FILE into a password file
# (PGPASSFILE) on a tmpfs: it never appears in the environment or on a command line.
# Each run ends with one line "kargo-pgbackup-result: {json}" that `kargo status` reads.
set -eu
umask 077
dir=${KARGO_BACKUP_DIR:-/backups}
prefix=${KARGO_BACKUP_PREFIX:-$PGDATABASE}
keep=${KARGO_BACKUP_KEEP:-0}
keep_days=${KARGO_BACKUP_KEEP_DAYS:-0}

log() { echo "kargo-pgbackup: $*"; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# result STATUS NAME SIZE SECONDS MESSAGE: the machine-readable last line of a run.
result() {
	printf 'kargo-pgbackup-result: {"op":"%s","result":"%s","name":"%s","size":%s,"seconds":%s,"time":"%s","database":"%s","message":"%s"}\n' \
		"$op" "$1" "$2" "${3:-0}" "${4:-0}" "$(now)" "$PGDATABASE" "$5"
}
fail() {
	log "$*" >&2
	result failed "${name:-}" 0 0 "$(printf '%s' "$*" | tr -d '"\\')"
	exit 1
}

pgpass() {
	[ -r "$KARGO_PASSWORD_FILE" ] || fail "password file $KARGO_PASSWORD_FILE is missing"
	f=${KARGO_TMP:-/run/kargo}/pgpass
	# .pgpass escapes backslashes and colons; the password never goes through a variable.
	{ printf '*:*:*:*:'; sed -e 's/\\/\\\\/g' -e 's/:/\\:/g' "$KARGO_PASSWORD_FILE" | tr -d '\r\n'; echo; } >"$f"
	PGPASSFILE=$f
	export PGPASSFILE
}

wait_db() {
	i=0
	until pg_isready -q; do
		i=$((i + 1))
		[ "$i" -lt 60 ] || fail "$PGHOST:$PGPORT is not ready after 60 s"
		sleep 1
	done
}

# dumps lists the finished dumps of this database, newest first (names sort by time).
dumps() {
	ls -1 "$dir" 2>/dev/null | grep -E "^$prefix-[0-9]{8}T[0-9]{6}Z\.dump\$" | sort -r || true
}

# epoch NAME is the time in NAME (prefix-YYYYMMDDTHHMMSSZ.dump) in seconds since 1970.
epoch() {
	t=${1#"$prefix"-}
	t=${t%.dump}
	date -u -d "$(echo "$t" | sed -E 's/^(....)(..)(..)T(..)(..)(..)Z$/\1-\2-\3 \4:\5:\6/')" +%s
}

prune() {
	n=0
	kept=0
	cut=$(($(date -u +%s) - keep_days * 86400))
	for f in $(dumps); do
		n=$((n + 1))
		# The newest dump always stays; then the last $keep, and those of the last $keep_days days.
		if [ "$n" -eq 1 ] || { [ "$keep" -gt 0 ] && [ "$n" -le "$keep" ]; } ||
			{ [ "$keep_days" -gt 0 ] && [ "$(epoch "$f")" -ge "$cut" ]; }; then
			kept=$((kept + 1))
			continue
		fi
		rm -f "$dir/$f" "$dir/$f.json"
		log "removed $f (retention: last $keep, $keep_days day(s))"
	done
}

# metrics OK SIZE writes the result of this run for node-exporter's textfile collector
# (services/monitoring mounts the volume read-only): the dumps stay readable by root only.
metrics() {
	f="$dir/$prefix.prom"
	{
		echo "# HELP kargo_backup_last_run_timestamp_seconds When the last backup run ended."
		echo "# TYPE kargo_backup_last_run_timestamp_seconds gauge"
		echo "kargo_backup_last_run_timestamp_seconds{database=\"$PGDATABASE\"} $(date -u +%s)"
		echo "# HELP kargo_backup_last_run_success Whether the last backup run made a dump."
		echo "# TYPE kargo_backup_last_run_success gauge"
		echo "kargo_backup_last_run_success{database=\"$PGDATABASE\"} $1"
		if [ "$1" = 1 ]; then
			echo "# HELP kargo_backup_last_success_timestamp_seconds When the last dump was made."
			echo "# TYPE kargo_backup_last_success_timestamp_seconds gauge"
			echo "kargo_backup_last_success_timestamp_seconds{database=\"$PGDATABASE\"} $(date -u +%s)"
			echo "# HELP kargo_backup_last_size_bytes Size of the last dump."
			echo "# TYPE kargo_backup_last_size_bytes gauge"
			echo "kargo_backup_last_size_bytes{database=\"$PGDATABASE\"} $2"
		elif [ -f "$f" ]; then
			grep -A2 -E "kargo_backup_last_(success_timestamp_seconds|size_bytes) " "$f" | grep -v -- '^--' || true
		fi
	} >"$f.tmp"
	chmod 0644 "$f.tmp"
	mv "$f.tmp" "$f"
	chmod 0755 "$dir"
}

backup() {
	if [ -z "${KARGO_RUN:-}" ]; then
		# Swarm runs a job when it is created: an apply (a fresh stack, say) must not
		# take a dump that would then be the latest. Runs come from the scheduler and
		# from `kargo backup`, which set the run label KARGO_RUN is made from.
		log "started by an apply, not by a scheduled run or kargo backup: no dump taken"
		result skipped "" 0 0 "started by an apply"
		return 0
	fi
	mkdir -p "$dir"
	rm -f "$dir"/.*.partial
	pgpass
	wait_db
	name="$prefix-$(date -u +%Y%m%dT%H%M%SZ).dump"
	part="$dir/.$name.partial"
	start=$(date +%s)
	log "dumping $PGDATABASE from $PGHOST:$PGPORT into $name"
	if ! pg_dump -Fc -f "$part"; then
		rm -f "$part"
		metrics 0
		fail "pg_dump of $PGDATABASE failed"
	fi
	mv "$part" "$dir/$name"
	size=$(stat -c %s "$dir/$name")
	secs=$(($(date +%s) - start))
	sum=$(sha256sum "$dir/$name" | cut -c1-64)
	printf '{"name":"%s","database":"%s","time":"%s","size":%s,"seconds":%s,"sha256":"%s"}\n' \
		"$name" "$PGDATABASE" "$(now)" "$size" "$secs" "$sum" >"$dir/$name.json"
	prune
	metrics 1 "$size"
	log "$name: $size bytes in $secs s; $kept dump(s) kept"
	result succeeded "$name" "$size" "$secs" "$kept dump(s) kept"
}

restore() {
	name=${1:-latest}
	if [ "$name" = latest ]; then
		name=$(dumps | head -n 1)
		[ -n "$name" ] || fail "no dump of $PGDATABASE in the backup volume"
	fi
	case $name in
	*/* | .*) fail "$name is not a dump name" ;;
	esac
	[ -f "$dir/$name" ] || fail "no dump named $name (have: $(dumps | tr '\n' ' '))"
	pgpass
	wait_db
	start=$(date +%s)
	log "restoring $name into $PGDATABASE on $PGHOST:$PGPORT"
	# One transaction: readers see the old rows or the restored ones, and a failure
	# leaves the database as it was.
	if ! pg_restore --clean --if-exists --single-transaction --exit-on-error -d "$PGDATABASE" "$dir/$name"; then
		fail "pg_restore of $name failed; the database is unchanged"
	fi
	size=$(stat -c %s "$dir/$name")
	secs=$(($(date +%s) - start))
	log "restored $name in $secs s"
	result succeeded "$name" "$size" "$secs" "restored"
}

list() {
	for f in $(dumps); do
		echo "$f $(stat -c %s "$dir/$f")"
	done
}

op=${1:-backup}
[ $# -gt 0 ] && shift
case $op in
backup) backup ;;
restore) restore "$@" ;;
list) list ;;
*)
	bad=$op
	op=unknown
	fail "unknown command $bad (want backup, restore [NAME] or list)"
	;;
esac
