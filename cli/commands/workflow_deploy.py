"""``tango workflow deploy DIR|NAME`` — deploy a workflow bundle (package, actions, definition).

Registered by ``cli.commands.workflow``. A bundle is a folder with ``workflow.yaml``,
``deploy.json`` (package, action name -> function file, memory, timeout, shared files) and the
function files; ``NAME`` alone names a shipped bundle under ``workflows/`` (``image-pipeline``,
``video-analytics``, ``ml-pipeline``). ``workflows.packaging.load_bundle`` reads and validates
it locally, so a bad definition fails before anything is sent. Then, in the caller's namespace:

1. the package (``PUT .../packages/{package}``) when the controller serves packages; without
   that resource, actions named ``package/action`` are accepted as they are;
2. every action, as a zip (the function as ``__main__.py`` plus ``actionlib/``), overwriting;
3. the workflow definition, created or updated.

It ends by printing the profiling command for the bundle's ``inputs.jsonl``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli import output
from cli.client import ApiError
from cli.commands.common import Context, failing
from cli.errors import CliError
from cli.names import QualifiedName

NO_RESOURCE = (404, 405)  # the controller has no packages resource (yet)


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "deploy",
        parents=[common],
        help="deploy a workflow bundle: its package, actions and definition",
    )
    p.add_argument(
        "bundle",
        metavar="DIR|NAME",
        help="bundle folder (workflow.yaml + deploy.json + functions) or a shipped workflow's name",
    )
    p.set_defaults(handler=deploy)


def load(bundle: str):
    """The bundle at folder ``bundle`` or shipped under that name; errors say what is accepted."""
    try:
        from workflows.definition import WorkflowError
        from workflows.packaging import load_bundle
    except ImportError as exc:
        raise CliError(
            f"'tango workflow deploy' needs the workflows package, which failed to import: {exc}"
        ) from exc
    try:
        return load_bundle(bundle)
    except FileNotFoundError as exc:
        raise CliError(f"cannot deploy '{bundle}': {exc}") from exc
    except WorkflowError as exc:
        raise CliError(
            f"cannot deploy '{bundle}': the workflow definition is not valid: {exc}"
        ) from exc
    except (ValueError, KeyError) as exc:  # deploy.json: bad JSON or a missing key
        raise CliError(
            f"cannot deploy '{bundle}': {Path(bundle) / 'deploy.json'} is not valid "
            f'({type(exc).__name__}: {exc}); expected {{"package", "actions": '
            '{name: {"file", "memory", "timeout"}}}'
        ) from exc


def deploy(args: argparse.Namespace, ctx: Context) -> int:
    bundle = load(args.bundle)
    client = ctx.client()
    with failing(f"create package '{bundle.package}'"):
        made_package = _put_package(client, bundle.package, bundle.parameters)
    # The bundle's configuration (deploy.json `parameters`, e.g. the Redis address) lives on the
    # package; without a packages resource, on each action.
    parameters = [{"key": k, "value": v} for k, v in bundle.parameters.items()]
    for spec in bundle.actions:
        with failing(f"create action '{spec.path}'"):
            client.put_action(
                QualifiedName("_", spec.path),
                {"exec": spec.exec_json(), "limits": spec.limits()}
                | ({"parameters": parameters} if parameters and not made_package else {}),
                overwrite=True,
            )
    with failing(f"create workflow '{bundle.name}'"):
        saved = client.put_workflow(
            QualifiedName("_", bundle.name), bundle.definition, overwrite=True
        )
    if ctx.json:
        output.emit(output.pretty(saved))
        return 0
    package_note = f"package {bundle.package}, " if made_package else ""
    output.ok(
        f"deployed workflow {bundle.name} ({package_note}{len(bundle.actions)} actions: "
        + ", ".join(a.path for a in bundle.actions)
        + ")"
    )
    inputs = bundle.directory / "inputs.jsonl"
    if inputs.is_file():
        output.note(f"profile it with: tango hints profile {bundle.name} --inputs {inputs}")
    return 0


def _put_package(client, package: str, parameters: dict | None = None) -> bool:
    """Create or update the package (with the bundle's configuration parameters); False when
    the controller has no packages resource."""
    body = {"parameters": [{"key": k, "value": v} for k, v in (parameters or {}).items()]}
    try:
        client.request("PUT", f"/namespaces/_/packages/{package}", {"overwrite": True}, body)
    except ApiError as err:
        if err.status in NO_RESOURCE:
            return False
        raise
    return True
