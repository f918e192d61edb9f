#!/usr/bin/env bash
# README command 1: set up this machine (Docker engine, images, Python package) and run the
# standalone platform: controller + invoker + SQLite + Docker on http://localhost:3233.
# Extra arguments go to `tango standalone` (e.g. --port 3300).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TANGO_BROWSER_TESTS=0 bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m cli standalone "$@"  # the project venv (bootstrap.sh)
