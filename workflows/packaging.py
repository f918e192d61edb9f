"""The shipped workflows as deployable bundles: definition, actions (zip code), inputs.

Each folder `workflows/<name>/` holds `workflow.yaml`, one Python file per function,
`deploy.json` (package, action name -> file, memory, timeout, extra shared files),
`inputs.jsonl` and `gen_inputs.py`. The lead's CLI / evaluation calls `load_bundle(name)` and,
per action, `spec.exec_json()` + `spec.limits()` to create the action, then PUTs
`bundle.definition`. Tests and the profiler call `load_function(spec)` to run a function
locally as plain Python.

Every action is a zip action (`binary: true`): the function file becomes `__main__.py` and
the `actionlib` package (plus any `shared` files of the workflow) sits beside it; the Python
runtime puts the action's folder first on `sys.path`.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from workflows.definition import Workflow, load

WORKFLOWS_DIR = Path(__file__).resolve().parent
ACTIONLIB_DIR = WORKFLOWS_DIR / "actionlib"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so identical code gives an identical zip


@dataclass(frozen=True)
class ActionSpec:
    package: str
    name: str
    file: Path
    memory: int  # MB, the action's limit (the adapter may bind another size)
    timeout: int  # ms
    kind: str = "python:3.11"
    shared: tuple[Path, ...] = ()
    concurrency: int | None = None  # limits.concurrency (a vlm action batches concurrent runs)

    @property
    def path(self) -> str:
        """The action path workflow.yaml refers to."""
        return f"{self.package}/{self.name}"

    def zip_bytes(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            _add(z, "__main__.py", self.file)
            for f in sorted(ACTIONLIB_DIR.glob("*.py")):
                _add(z, f"actionlib/{f.name}", f)
            for f in self.shared:
                _add(z, f.name, f)
        return buf.getvalue()

    def exec_json(self) -> dict:
        """The OpenWhisk `exec` of this action (a `vlm` action's code is its JSON configuration)."""
        if self.kind == "vlm":
            return {"kind": "vlm", "code": self.file.read_text(), "binary": False, "main": "main"}
        return {
            "kind": self.kind,
            "code": base64.b64encode(self.zip_bytes()).decode("ascii"),
            "binary": True,
            "main": "main",
        }

    def limits(self) -> dict:
        limits = {"memory": self.memory, "timeout": self.timeout}
        return limits | ({"concurrency": self.concurrency} if self.concurrency else {})


@dataclass(frozen=True)
class Bundle:
    name: str
    directory: Path
    definition: str  # workflow.yaml text, as PUT to the controller
    workflow: Workflow
    package: str
    actions: list[ActionSpec]
    # Configuration the actions read as parameters (deploy.json `parameters`), set on the package
    # by `tango workflow deploy`: e.g. {"redis": "redis://127.0.0.1:6379/0"}.
    parameters: dict = field(default_factory=dict)

    def inputs(self) -> list[dict]:
        """The representative inputs (inputs.jsonl), in file order."""
        lines = (self.directory / "inputs.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def action(self, name: str) -> ActionSpec:
        return next(a for a in self.actions if a.name == name)


def shipped() -> list[str]:
    """Names of the shipped workflows (folders with a deploy.json)."""
    return sorted(p.parent.name for p in WORKFLOWS_DIR.glob("*/deploy.json"))


def load_bundle(name_or_dir: str | Path) -> Bundle:
    directory = Path(name_or_dir)
    if not directory.is_dir():
        directory = WORKFLOWS_DIR / str(name_or_dir)
    if not (directory / "deploy.json").is_file():
        raise FileNotFoundError(
            f"{directory}: no deploy.json; shipped workflows: " + ", ".join(shipped())
        )
    manifest = json.loads((directory / "deploy.json").read_text())
    definition = (directory / "workflow.yaml").read_text()
    shared = tuple(directory / f for f in manifest.get("shared", []))
    actions = [
        ActionSpec(
            package=manifest["package"],
            name=name,
            file=directory / a["file"],
            memory=int(a.get("memory", 256)),
            timeout=int(a.get("timeout", 60000)),
            kind=a.get("kind", manifest.get("kind", "python:3.11")),
            shared=shared,
            concurrency=a.get("concurrency"),
        )
        for name, a in manifest["actions"].items()
    ]
    known = {a.path for a in actions}
    workflow = load(
        definition, filename=str(directory / "workflow.yaml"), action_exists=known.__contains__
    )
    return Bundle(
        name=workflow.name,
        directory=directory,
        definition=definition,
        workflow=workflow,
        package=manifest["package"],
        actions=actions,
        parameters=configured(manifest.get("parameters", {})),
    )


# Deployment-time overrides of a bundle's configuration parameters, from the deploying shell.
PARAMETER_ENV = {"redis": "TANGO_REDIS_URL"}


def configured(parameters: dict) -> dict:
    """deploy.json's parameters, each overridden by its environment variable when set."""
    return {k: os.environ.get(PARAMETER_ENV.get(k, ""), v) or v for k, v in parameters.items()}


def load_function(spec: ActionSpec) -> ModuleType:
    """Import a function file as its zip would run it (actionlib and shared files importable)."""
    for folder in (str(WORKFLOWS_DIR), str(spec.file.parent)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module_name = f"tango_action_{spec.package}_{spec.name}".replace("-", "_")
    found = importlib.util.spec_from_file_location(module_name, spec.file)
    if found is None or found.loader is None:
        raise ImportError(f"cannot load {spec.file} as a module")
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def _add(z: zipfile.ZipFile, arcname: str, source: Path) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    z.writestr(info, source.read_bytes())
