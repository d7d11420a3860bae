#!/bin/sh
# Makes a Temporal namespace ready for Turumba Dispatch: the namespace exists and
# carries the custom search attributes every message workflow sets (see
# SEARCH_ATTRIBUTES in workflows/definitions.ts). Safe to run any number of times.
#
# Connection comes from the Temporal CLI's own environment variables, so the same
# script serves docker compose, a self-hosted cluster and CI:
#   TEMPORAL_ADDRESS (default temporal:7233), TEMPORAL_NAMESPACE (default "default"),
#   TEMPORAL_API_KEY, TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH ...
# Other knobs:
#   TEMPORAL_NAMESPACE_RETENTION  retention when the namespace has to be created (default 72h)
#   TEMPORAL_CREATE_NAMESPACE     "false" to only register attributes (Temporal Cloud namespaces
#                                 are created in the Cloud console / tcld, not over this API)
#   TEMPORAL_WAIT_SECONDS         how long to wait for the cluster to answer (default 120)
#   TEMPORAL_CLI                  the CLI binary (default: temporal on PATH)
set -eu

: "${TEMPORAL_ADDRESS:=temporal:7233}"
: "${TEMPORAL_NAMESPACE:=default}"
: "${TEMPORAL_NAMESPACE_RETENTION:=72h}"
: "${TEMPORAL_CREATE_NAMESPACE:=true}"
: "${TEMPORAL_WAIT_SECONDS:=120}"
: "${TEMPORAL_CLI:=temporal}"
export TEMPORAL_ADDRESS TEMPORAL_NAMESPACE

# All Keyword: the SQL visibility store allows 10 Keyword attributes per namespace,
# these take 5. Keep in step with workflows/definitions.ts.
ATTRIBUTES="AccountId ChannelId ChannelType MessageStatus GroupMessageId"

log() { printf '%s\n' "register-search-attributes: $*" >&2; }

waited=0
until "$TEMPORAL_CLI" operator cluster health 2>/dev/null | grep -q SERVING; do
  if [ "$waited" -ge "$TEMPORAL_WAIT_SECONDS" ]; then
    log "Temporal at $TEMPORAL_ADDRESS did not report SERVING within ${TEMPORAL_WAIT_SECONDS}s"
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done
log "cluster at $TEMPORAL_ADDRESS is SERVING"

if ! "$TEMPORAL_CLI" operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
  if [ "$TEMPORAL_CREATE_NAMESPACE" != "true" ]; then
    log "namespace $TEMPORAL_NAMESPACE does not exist and TEMPORAL_CREATE_NAMESPACE=$TEMPORAL_CREATE_NAMESPACE"
    exit 1
  fi
  out=$("$TEMPORAL_CLI" operator namespace create --namespace "$TEMPORAL_NAMESPACE" \
    --retention "$TEMPORAL_NAMESPACE_RETENTION" \
    --description "Turumba Dispatch message workflows" 2>&1) || case "$out" in
      # Another init run won the race.
      *"already exists"* | *"AlreadyExists"*) ;;
      *) log "$out"; exit 1 ;;
    esac
  log "namespace $TEMPORAL_NAMESPACE created (retention $TEMPORAL_NAMESPACE_RETENTION)"
fi

# A namespace that was just created can take a few seconds to reach every frontend's
# cache, so each step is retried for a while before it counts as failed.
retry() {
  tries=0
  until out=$("$@" 2>&1); do
    case "$out" in *"already exists"*) printf '%s\n' "$out"; return 1 ;; esac
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
      printf '%s\n' "$out"
      return 1
    fi
    sleep 2
  done
  printf '%s\n' "$out"
}

existing=$(retry "$TEMPORAL_CLI" operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" --output json) || {
  log "cannot list search attributes: $existing"
  exit 1
}

for name in $ATTRIBUTES; do
  # `list -o json` prints one `"Name": "INDEXED_VALUE_TYPE_..."` pair per line.
  current=$(printf '%s\n' "$existing" | sed -n "s/^ *\"$name\": *\"\\([A-Z_]*\\)\".*/\\1/p")
  case "$current" in
    INDEXED_VALUE_TYPE_KEYWORD)
      log "$name already registered as Keyword"
      continue
      ;;
    "") ;;
    *)
      log "$name exists with type $current, expected Keyword: fix it by hand, workflows would fail to start"
      exit 1
      ;;
  esac
  out=$(retry "$TEMPORAL_CLI" operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" \
    --name "$name" --type Keyword) || case "$out" in
      # Older servers refuse a duplicate even when the type matches.
      *"already exists"*"different type"*) log "$out"; exit 1 ;;
      *"already exists"*) ;;
      *) log "cannot register $name: $out"; exit 1 ;;
    esac
  log "$name registered as Keyword"
done

# The frontend serves new attributes once its namespace cache refreshes (~10 s); wait for
# that here so the API's first start request does not fail on an unknown attribute.
tries=0
for name in $ATTRIBUTES; do
  until "$TEMPORAL_CLI" operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" --output json 2>/dev/null |
    grep -q "\"$name\": *\"INDEXED_VALUE_TYPE_KEYWORD\""; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
      log "$name was registered but the frontend does not list it yet"
      exit 1
    fi
    sleep 2
  done
done
log "namespace $TEMPORAL_NAMESPACE ready"
