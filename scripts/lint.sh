#!/usr/bin/env bash
# The code checks CI runs beside the tests: ruff (lint rules and import order), ruff's formatter
# (check only) and mypy, all configured in pyproject.toml. Exits non-zero when any of them fails,
# after running all three so that one run shows every problem.
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
echo "== ruff check" && ruff check . || status=1
echo "== ruff format --check" && ruff format --check . || status=1
echo "== mypy" && mypy || status=1
exit "$status"
