"""A non-editable install carries the data files the code reads at run time.

Builds a wheel from a copy of the tracked sources (so the build leaves nothing in the working
tree) and checks that every such file is inside: the OpenWhisk API description, the console's
templates and static files, the Alembic migrations and the shipped workflow bundles.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from controller.console import views
from controller.openapi import OPENWHISK
from controller.store.db import MIGRATIONS_DIR
from workflows.packaging import load_bundle, shipped

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("controller", "invoker", "runtimes", "hint_dsl", "workflows", "cli", "common")
PACKAGES += ("migrations", "janus_sim")


def _runtime_data_files() -> set[Path]:
    """The non-Python files (and migration scripts) the code loads, as absolute paths."""
    console = Path(views.bp.root_path)
    files = {OPENWHISK}
    files |= set((console / views.bp.template_folder).rglob("*.html"))
    files |= {p for p in (console / views.bp.static_folder).iterdir() if p.is_file()}
    files |= {MIGRATIONS_DIR / "script.py.mako", *(MIGRATIONS_DIR / "versions").glob("*.py")}
    for name in shipped():
        bundle = load_bundle(name)
        files |= {bundle.directory / f for f in ("deploy.json", "workflow.yaml", "inputs.jsonl")}
        for action in bundle.actions:
            files |= {action.file, *action.shared}
    return files


@pytest.mark.slow
def test_wheel_contains_runtime_data_files(tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "pyproject.toml", *PACKAGES],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    source = tmp_path / "src"
    for rel in tracked:
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, source / rel)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["-q", "-w", str(dist), str(source)],
        check=True,
    )
    (wheel,) = dist.glob("tango-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())

    expected = {str(p.relative_to(REPO)) for p in _runtime_data_files()}
    assert len(expected) > 30  # templates, static, migrations, bundles were all found
    assert sorted(expected - inside) == []
    assert "workflows/actionlib/codec.py" in inside  # the packages themselves are still there
