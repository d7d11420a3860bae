#!/usr/bin/env bash
# Starts a real Jasmin (installed by install.sh) on free ports, bound to the SMSC peer in
# sandbox/smsc, provisioned through jCli (group, user, connector, default MT route), and prints
# the credentials of an ("smpp","jasmin") channel for it. Ctrl-C stops both.
# Needs Redis on 127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672 (guest/guest).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$root/scripts/jasmin/install.sh"
cd "$root"
exec "$root/node_modules/.bin/tsx" tests/jasmin/run-rig.ts
