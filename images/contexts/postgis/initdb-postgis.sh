#!/bin/bash
# Like postgis/postgis's initdb-postgis.sh: a template_postgis database, and the PostGIS
# extensions in it and in $POSTGRES_DB. Sourced by docker-entrypoint.sh during first init.
set -e
export PGUSER="$POSTGRES_USER"
psql=( psql -v ON_ERROR_STOP=1 --no-psqlrc )
"${psql[@]}" --dbname=postgres <<-'EOSQL'
	CREATE DATABASE template_postgis IS_TEMPLATE true;
EOSQL
for db in template_postgis "$POSTGRES_DB"; do
	echo "kargo/postgis: loading PostGIS extensions into $db"
	"${psql[@]}" --dbname="$db" <<-'EOSQL'
		CREATE EXTENSION IF NOT EXISTS postgis;
		CREATE EXTENSION IF NOT EXISTS postgis_topology;
		CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
		CREATE EXTENSION IF NOT EXISTS postgis_tiger_geocoder;
EOSQL
done
