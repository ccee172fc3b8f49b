#!/usr/bin/env bash
# Entry point of kargo/postgis, following the official postgres image's docker-entrypoint.sh:
# same variables, same first-init rules, same /docker-entrypoint-initdb.d processing.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR or the content of the file named by VAR_FILE (not both).
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		echo >&2 "error: both $var and $fileVar are set (but are exclusive)"
		exit 1
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(< "${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

# Only the first argument "postgres" (or an option for it) triggers our behaviour.
if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

docker_create_db_directories() {
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql || :
	if [ "$(id -u)" = '0' ]; then
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
	fi
}

docker_setup_env() {
	file_env 'POSTGRES_PASSWORD'
	file_env 'POSTGRES_USER' 'postgres'
	file_env 'POSTGRES_DB' "$POSTGRES_USER"
	file_env 'POSTGRES_INITDB_ARGS'
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	declare -g DATABASE_ALREADY_EXISTS
	if [ -s "$PGDATA/PG_VERSION" ]; then
		DATABASE_ALREADY_EXISTS='true'
	fi
}

docker_verify_minimum_env() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ 'trust' != "$POSTGRES_HOST_AUTH_METHOD" ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value,
			       or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password.
		EOE
		exit 1
	fi
}

docker_init_database_dir() {
	local pwfile
	pwfile="$(mktemp)"
	printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
	chmod 600 "$pwfile"
	[ "$(id -u)" = '0' ] && chown postgres "$pwfile"
	# shellcheck disable=SC2086
	run_as_postgres initdb --username="$POSTGRES_USER" --pwfile="$pwfile" $POSTGRES_INITDB_ARGS
	rm -f "$pwfile"
}

pg_setup_hba_conf() {
	local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	{
		printf '\n'
		printf '# kargo/postgis: password authentication from the network\n'
		printf 'host all all all %s\n' "$auth"
	} >> "$PGDATA/pg_hba.conf"
}

run_as_postgres() {
	if [ "$(id -u)" = '0' ]; then
		gosu postgres "$@"
	else
		"$@"
	fi
}

docker_temp_server_start() {
	run_as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
}

docker_temp_server_stop() {
	run_as_postgres pg_ctl -D "$PGDATA" -m fast -w stop
}

# docker_process_init_files FILE...: run *.sh, and *.sql / *.sql.gz / *.sql.xz / *.sql.zst through psql.
docker_process_init_files() {
	local f
	for f; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					echo "$0: running $f"; "$f"
				else
					echo "$0: sourcing $f"; . "$f"
				fi ;;
			*.sql)     echo "$0: running $f"; docker_process_sql -f "$f" ;;
			*.sql.gz)  echo "$0: running $f"; gunzip -c "$f" | docker_process_sql ;;
			*.sql.xz)  echo "$0: running $f"; xzcat "$f" | docker_process_sql ;;
			*.sql.zst) echo "$0: running $f"; zstd -dc "$f" | docker_process_sql ;;
			*)         echo "$0: ignoring $f" ;;
		esac
	done
}

docker_process_sql() {
	PGHOST= PGHOSTADDR= run_as_postgres psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
		--no-password --no-psqlrc --dbname "$POSTGRES_DB" "$@"
}

docker_setup_db() {
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		PGHOST= PGHOSTADDR= run_as_postgres psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
			--no-password --no-psqlrc --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			SELECT 'CREATE DATABASE ' || quote_ident(:'db')
			WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
		EOSQL
	fi
}

# docker_sync_password: the role's password is the secret's, at every start. The volume
# outlives the stack and its secrets: a password regenerated (after docker stack rm) or
# changed (a rotation) must still open the data initialised with another one. Set over the
# local socket by a server that does not listen on the network yet.
docker_sync_password() {
	if [ -z "$POSTGRES_PASSWORD" ]; then
		return 0
	fi
	docker_temp_server_start
	PGHOST= PGHOSTADDR= KARGO_PASSWORD="$POSTGRES_PASSWORD" run_as_postgres psql -v ON_ERROR_STOP=1 -q \
		--username "$POSTGRES_USER" --no-password --no-psqlrc --dbname postgres --set role="$POSTGRES_USER" <<-'EOSQL'
		\getenv password KARGO_PASSWORD
		ALTER ROLE :"role" WITH PASSWORD :'password';
	EOSQL
	docker_temp_server_stop
	echo "kargo/postgis: password of role $POSTGRES_USER set from the secret"
}

_main() {
	if [ "$1" = 'postgres' ]; then
		docker_setup_env
		docker_create_db_directories
		if [ "$(id -u)" = '0' ]; then
			# Drop root: re-run this script as postgres.
			exec gosu postgres "$BASH_SOURCE" "$@"
		fi
		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			docker_verify_minimum_env
			docker_init_database_dir
			pg_setup_hba_conf
			export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
			docker_temp_server_start
			docker_setup_db
			local files=()
			shopt -s nullglob
			files=(/docker-entrypoint-initdb.d/*)
			shopt -u nullglob
			docker_process_init_files "${files[@]}"
			docker_temp_server_stop
			unset PGPASSWORD
			echo
			echo 'PostgreSQL init process complete; ready for start up.'
			echo
		else
			echo
			echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
			echo
			docker_sync_password
		fi
		set -- "$@" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
	fi
	exec "$@"
}

_main "$@"
