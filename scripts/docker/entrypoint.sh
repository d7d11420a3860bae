#!/bin/sh
# The production image's entry point; scripts/ci/production-start.sh runs it the same way.
#   api      the Fastify API (node dist/api/main.js)
#   worker   the Temporal workers (node dist/worker/main.js)
#   migrate  apply db/migrations and create partitions, then exit (node dist/db/migrate.js)
#   cli ...  the operator CLI, e.g. `cli account create --name acme` (node dist/cli/main.js)
set -eu

# The app directory is two levels up from this script, inside the image and in a checkout.
APP_DIR=$(cd "$(dirname "$0")/../.." && pwd)
cd "$APP_DIR"

role=${1:-}
[ "$#" -gt 0 ] && shift

case "$role" in
  api) main=dist/api/main.js ;;
  worker) main=dist/worker/main.js ;;
  migrate) main=dist/db/migrate.js ;;
  cli) main=dist/cli/main.js ;;
  *)
    echo "usage: entrypoint.sh api | worker | migrate | cli <args>" >&2
    exit 64
    ;;
esac

if [ ! -f "$main" ]; then
  echo "entrypoint: $APP_DIR/$main is missing; was the image built with npm run build?" >&2
  exit 70
fi

# healthcheck.sh reads the role from here: the HEALTHCHECK is shared by every role.
if [ "$role" = api ] || [ "$role" = worker ]; then
  printf '%s\n' "$role" >"${TURUMBA_RUN_DIR:-/tmp}/turumba-role"
fi

# exec: node becomes PID 1 and receives docker's SIGTERM itself (graceful shutdown).
exec node "$main" "$@"
