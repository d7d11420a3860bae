#!/usr/bin/env bash
# Installs the Jasmin SMS gateway from PyPI, pinned, into a project-local virtualenv
# (default .jasmin-venv/ at the repo root, git-ignored) for tests/jasmin and bench/jasmin.ts.
# Idempotent: does nothing when that version is already installed with these constraints.
#
# Pinned to 0.11.0, not the newer 0.11.1: 0.11.1 raises AttributeError ('SubmitSM' object has no
# attribute 'response') on every submit_sm_resp, so no HTTP DLR is ever thrown (jookies/jasmin#1236).
#
#   scripts/jasmin/install.sh            # install or confirm
#   JASMIN_VENV=/path scripts/jasmin/install.sh
#   JASMIN_PYTHON=python3.10 scripts/jasmin/install.sh
#
# Verified on CPython 3.11, which is taken first when present (Jasmin 0.11 declares no upper
# bound; its Twisted 23.10 pin predates 3.12). At run time it needs Redis and RabbitMQ; it needs
# no system library beyond what a Python with pip and venv has.
set -euo pipefail

JASMIN_VERSION=0.11.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${JASMIN_VENV:-$root/.jasmin-venv}"
constraints="$here/constraints.txt"
marker="$venv/.turumba-jasmin"
want="jasmin==$JASMIN_VERSION $(sha256sum "$constraints" | cut -c1-16)"

if [[ -f "$marker" && "$(cat "$marker")" == "$want" && -x "$venv/bin/jasmind.py" ]]; then
  echo "jasmin $JASMIN_VERSION already installed in $venv"
  exit 0
fi

pick_python() {
  if [[ -n "${JASMIN_PYTHON:-}" ]]; then echo "$JASMIN_PYTHON"; return; fi
  for candidate in python3.11 python3.10 python3.9 python3.8 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 8) else 1)' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "no CPython >= 3.8 found; set JASMIN_PYTHON" >&2
  exit 1
}

python="$(pick_python)"
started=$(date +%s)
# A venv from another Python or a half-finished install is rebuilt rather than patched.
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" "jasmin==$JASMIN_VERSION"
JASMIN_VERSION="$JASMIN_VERSION" "$venv/bin/python" - <<'PY'
import importlib.metadata, os, txamqp
assert importlib.metadata.version("jasmin") == os.environ["JASMIN_VERSION"], importlib.metadata.version("jasmin")
spec = os.path.join(os.path.dirname(txamqp.__file__), "specs", "standard", "amqp0-9-1.stripped.xml")
assert os.path.isfile(spec), spec
PY
echo "$want" > "$marker"
echo "installed jasmin $JASMIN_VERSION into $venv with $("$python" --version) in $(( $(date +%s) - started ))s"
