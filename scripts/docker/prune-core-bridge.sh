#!/bin/sh
# @temporalio/core-bridge ships its native library for five platforms (~140 MB); a Linux
# image needs one. Run in the directory holding node_modules, after `npm ci --omit=dev`.
# The Dockerfile and scripts/ci/production-start.sh both run it, so CI proves the worker
# still loads its native library afterwards.
set -eu

releases=node_modules/@temporalio/core-bridge/releases
[ -d "$releases" ] || { echo "prune-core-bridge: $releases not found" >&2; exit 1; }

case "$(uname -m)" in
  x86_64 | amd64) keep=x86_64-unknown-linux-gnu ;;
  aarch64 | arm64) keep=aarch64-unknown-linux-gnu ;;
  *) echo "prune-core-bridge: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
[ -d "$releases/$keep" ] || { echo "prune-core-bridge: no $keep build in $releases" >&2; exit 1; }

find "$releases" -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} +
echo "prune-core-bridge: kept $keep" >&2
