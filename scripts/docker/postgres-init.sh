#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). Gives the application and Temporal their own login roles
# so neither runs as the superuser:
#   APP_DB_USER / APP_DB_PASSWORD      owns database APP_DB_NAME (migrations run as this role)
#   TEMPORAL_DB_USER / TEMPORAL_DB_PASSWORD   may create databases (temporal, temporal_visibility)
# psql variables (:"name" / :'value') quote the values, so passwords need no escaping here.
set -eu

: "${APP_DB_USER:?APP_DB_USER is required}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is required}"
: "${APP_DB_NAME:?APP_DB_NAME is required}"
: "${TEMPORAL_DB_USER:?TEMPORAL_DB_USER is required}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is required}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  -v app_user="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" -v app_db="$APP_DB_NAME" \
  -v temporal_user="$TEMPORAL_DB_USER" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
CREATE ROLE :"temporal_user" LOGIN CREATEDB PASSWORD :'temporal_password';
SQL

echo "postgres-init: roles $APP_DB_USER (database $APP_DB_NAME) and $TEMPORAL_DB_USER created"
