"""Runs jasmind.py with its single-instance lock moved into this instance's own directory.

jasmind.py takes a machine-wide lock at /tmp/jasmind, so a second gateway (a parallel test
run, a developer's own Jasmin) would exit with "There's another instance on jasmind running".
Each harness instance has its own ports, AMQP vhost and store, so it gets its own lock too.

    python jasmind-launcher.py <lock path> <jasmind.py> [jasmind options...]
"""
import runpy
import sys

import lockfile

lock_path, jasmind = sys.argv[1], sys.argv[2]
_FileLock = lockfile.FileLock
lockfile.FileLock = lambda _path, *args, **kwargs: _FileLock(lock_path, *args, **kwargs)
sys.argv = [jasmind] + sys.argv[3:]
runpy.run_path(jasmind, run_name="__main__")
