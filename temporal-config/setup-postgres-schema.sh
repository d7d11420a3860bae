#!/bin/sh
# Creates or upgrades Temporal's own two databases (persistence + SQL visibility) on
# PostgreSQL with temporal-sql-tool, run from the temporalio/admin-tools image before
# the server starts. A fresh database gets the base schema; an existing one is only
# moved forward, so a restart or an image upgrade never resets anything.
#
#   SQL_HOST, SQL_PORT (5432), SQL_USER, SQL_PASSWORD   connection (temporal-sql-tool reads SQL_PASSWORD)
#   TEMPORAL_DB (temporal), TEMPORAL_VISIBILITY_DB (temporal_visibility)
set -eu

: "${SQL_HOST:?SQL_HOST is required}"
: "${SQL_PORT:=5432}"
: "${SQL_USER:?SQL_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
: "${TEMPORAL_DB:=temporal}"
: "${TEMPORAL_VISIBILITY_DB:=temporal_visibility}"
export SQL_PASSWORD
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

log() { printf '%s\n' "setup-postgres-schema: $*" >&2; }

tool() {
  temporal-sql-tool --plugin postgres12 --endpoint "$SQL_HOST" --port "$SQL_PORT" --user "$SQL_USER" "$@"
}

waited=0
until nc -z "$SQL_HOST" "$SQL_PORT"; do
  if [ "$waited" -ge 120 ]; then
    log "PostgreSQL at $SQL_HOST:$SQL_PORT did not open within 120s"
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done

setup() {
  db=$1
  dir=$2
  # update-schema succeeds only on a database that already has Temporal's version table.
  if tool --database "$db" update-schema --schema-dir "$SCHEMA_ROOT/$dir/versioned" >/dev/null 2>&1; then
    log "$db is up to date"
    return
  fi
  log "$db: creating and loading the base schema"
  out=$(tool --database "$db" create 2>&1) || case "$out" in
    *"already exists"*) ;;
    *) log "$out"; exit 1 ;;
  esac
  tool --database "$db" setup-schema --version 0.0
  tool --database "$db" update-schema --schema-dir "$SCHEMA_ROOT/$dir/versioned"
  log "$db ready"
}

setup "$TEMPORAL_DB" temporal
setup "$TEMPORAL_VISIBILITY_DB" visibility
