#!/usr/bin/env bash
# README command 2: set up this machine and run the whole test suite (unit, Docker, end to
# end through the tango CLI, browser). PostgreSQL tests run when TANGO_TEST_PG_URL is set
# (.ci/run sets it); with CI=true, tests that need Docker or PostgreSQL fail instead of skipping.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/hint_dsl -k unreachable).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh" || exit 1
cd "$ROOT"
# ruff (lint, import order, format) and mypy first (scripts/lint.sh, with the venv's ruff and
# mypy, pinned in pyproject.toml); the tests run either way, and a lint failure fails the run.
PATH="$ROOT/.venv/bin:$PATH" bash "$ROOT/scripts/lint.sh"
lint_rc=$?
# the project venv (bootstrap.sh): the tests start `python -m cli` with this interpreter
"$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider "${@:-tests}"
rc=$?
[ "$rc" -eq 5 ] && { echo "no tests were collected" >&2; exit 1; }
[ "$rc" -ne 0 ] && exit "$rc"
[ "$lint_rc" -ne 0 ] && { echo "scripts/lint.sh failed (see above)" >&2; exit 1; }
exit 0
