#!/bin/sh
# The image's HEALTHCHECK. One image runs several roles, so the role entrypoint.sh
# recorded decides what to probe: the API's liveness route, or the worker's metrics port
# (the worker serves nothing else over HTTP). One-shot roles (migrate, cli) are healthy.
set -eu

role=$(cat "${TURUMBA_RUN_DIR:-/tmp}/turumba-role" 2>/dev/null || true)
case "$role" in
  api) url="http://127.0.0.1:${API_PORT:-3000}/health" ;;
  worker) url="http://127.0.0.1:${WORKER_METRICS_PORT:-9464}/metrics" ;;
  *) exit 0 ;;
esac

# The runtime image has no curl: ask node, with a timeout shorter than docker's.
exec node -e '
fetch(process.argv[1], { signal: AbortSignal.timeout(4000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);' "$url"
