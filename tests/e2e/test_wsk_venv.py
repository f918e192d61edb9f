"""The set-up installs Tango into the project's virtual environment (issue 18, item 7):
``scripts/bootstrap.sh`` makes ``.venv`` with ``tango`` in it, bound to this checkout, and the
test command runs inside it; the machine's Python is not where this checkout lives."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from common.platform_process import REPO

VENV = REPO / ".venv"


@pytest.fixture(scope="module")
def venv():
    if not (VENV / "bin" / "tango").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{VENV} has no tango: scripts/bootstrap.sh did not set up the venv")
        pytest.skip("no .venv here yet (scripts/bootstrap.sh makes it)")
    return VENV


def run(*cmd: str) -> str:
    out = subprocess.run(cmd, cwd="/", capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


def test_tango_of_the_venv_runs_this_checkout_from_anywhere(venv):
    where = run(
        str(venv / "bin" / "python"),
        "-c",
        "import cli.main, sys; print(cli.main.__file__, sys.prefix)",
    )
    module, prefix = where.split()
    assert module == str(REPO / "cli" / "main.py")
    assert prefix == str(venv) and prefix != sys.base_prefix
    assert "usage: tango" in run(str(venv / "bin" / "tango"), "--help")


def test_the_test_command_runs_inside_the_venv(venv):
    if os.environ.get("CI") == "true":  # scripts/test.sh (what CI runs) uses .venv/bin/python
        assert sys.prefix == str(venv)
    text = (REPO / "scripts" / "test.sh").read_text()
    assert '"$ROOT/.venv/bin/python" -m pytest' in text
