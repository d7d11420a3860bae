#!/bin/sh
# Writes .env from .env.example with every change-me placeholder replaced by a random
# value. The same placeholder gets the same value everywhere it appears, so
# APP_DB_PASSWORD and the password inside DATABASE_URL stay equal. Placeholders ending in
# -key become 32 random bytes in base64 (CREDENTIALS_KEY); the rest become hex, which is
# safe inside URLs. Refuses to overwrite an existing .env.
#   sh scripts/docker/gen-env.sh [target]      (default: .env next to .env.example)
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EXAMPLE="$ROOT/.env.example"
TARGET=${1:-$ROOT/.env}

if [ -e "$TARGET" ]; then
  echo "gen-env: $TARGET exists; remove it first if you really want new secrets" >&2
  exit 1
fi
command -v openssl >/dev/null 2>&1 || { echo "gen-env: openssl is required" >&2; exit 1; }

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cp "$EXAMPLE" "$tmp"
# shellcheck disable=SC2013 # tokens match [a-z0-9-]: a word is a line
for token in $(grep -v '^#' "$EXAMPLE" | grep -o 'change-me-[a-z0-9-]*' | sort -u); do
  case "$token" in
    *-key) value=$(openssl rand -base64 32) ;;
    *) value=$(openssl rand -hex 24) ;;
  esac
  # Whole tokens only (change-me-app-db must not match inside a longer one). base64 may
  # contain / and +: the # delimiter appears in neither alphabet.
  sed -E "s#$token([^a-z0-9-]|\$)#$value\1#g" "$tmp" >"$tmp.next" && mv "$tmp.next" "$tmp"
done
umask 077
cp "$tmp" "$TARGET"
echo "gen-env: wrote $TARGET (mode 600); review PUBLIC_BASE_URL before starting" >&2
