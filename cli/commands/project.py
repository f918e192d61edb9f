"""``tango project deploy|undeploy -m manifest.yaml [-d deployment.yaml]`` — wskdeploy's job.

Registered by ``cli.main``. ``cli.manifest.load_plan`` reads the manifest into entities; deploy
PUTs them in order (packages, actions, sequences, triggers with their feeds, rules), each with
wskdeploy's ``whisk-managed`` annotation naming the project, then creates the API routes.
Undeploy removes, in reverse order, exactly the entities the manifest names that carry this
project's annotation (an entity of the same name made by hand is left alone) and the
manifest's API routes. Deploy refuses to take over an entity another project or a person made.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli import output
from cli.client import ApiError
from cli.commands import api as api_cmd
from cli.commands.common import Context, entity_request, failing, read_text
from cli.errors import CliError
from cli.manifest import MANAGED, Entity, Plan, load_plan
from cli.names import parse_name


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("project", parents=[common], help="deploy wskdeploy manifests")
    verbs = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for verb, handler in (("deploy", deploy), ("undeploy", undeploy)):
        p = verbs.add_parser(verb, parents=[common], help=f"{verb} the project of a manifest")
        p.add_argument(
            "-m", "--manifest", required=True, metavar="FILE", help="wskdeploy manifest.yaml"
        )
        p.add_argument("--deployment", metavar="FILE", help="wskdeploy deployment.yaml")
        p.add_argument(
            "--projectname", metavar="NAME", help="the project's name (default: its own)"
        )
        p.set_defaults(handler=handler)


def _plan(args: argparse.Namespace) -> tuple[Plan, str]:
    manifest = Path(args.manifest)
    text = read_text(args.manifest, "--manifest")
    deployment = read_text(args.deployment, "--deployment") if args.deployment else None
    return load_plan(text, manifest.parent, deployment, project=args.projectname), str(manifest)


def _qname(entity: Entity):
    return parse_name(entity.path)


def _managed_by(doc: dict | None) -> str | None:
    for kv in (doc or {}).get("annotations") or []:
        if kv.get("key") == MANAGED and isinstance(kv.get("value"), dict):
            return kv["value"].get("projectName")
    return None


def _existing(ctx: Context, entity: Entity) -> dict | None:
    try:
        return entity_request(ctx, "GET", entity.collection, _qname(entity)).body
    except ApiError as err:
        if err.status == 404:
            return None
        raise


def _what(entity: Entity) -> str:
    return f"{entity.collection[:-1]} {entity.path}"


def deploy(args: argparse.Namespace, ctx: Context) -> int:
    plan, file = _plan(args)
    managed = plan.managed(file)
    for entity in plan.entities:
        with failing(f"deploy {_what(entity)}"):
            old = _existing(ctx, entity)
            owner = _managed_by(old)
            if old is not None and owner != plan.project:
                raise CliError(
                    f"Unable to deploy {_what(entity)}: it exists and "
                    + (
                        f"belongs to project '{owner}'"
                        if owner
                        else "was not deployed by a project"
                    )
                    + f"; project '{plan.project}' does not take it over. Delete or rename it."
                )
            body = dict(entity.body)
            annotations = [a for a in body.get("annotations", []) if a["key"] != MANAGED]
            body["annotations"] = annotations + [{"key": MANAGED, "value": managed}]
            entity_request(ctx, "PUT", entity.collection, _qname(entity), {"overwrite": True}, body)
        if not ctx.json:
            output.emit(f"  deployed {_what(entity)}")
    for route in plan.apis:
        package, _, name = route.action.rpartition("/")
        apidoc = {
            "namespace": "_",
            "apiName": route.api_name,
            "gatewayBasePath": route.base_path,
            "gatewayPath": route.rel_path,
            "gatewayMethod": route.method,
            "action": {
                "name": route.action,
                "namespace": "_",
                "backendMethod": route.method,
                "backendUrl": f"{ctx.settings.base_url}/web/_/{package or 'default'}/{name}"
                f".{route.response}",
            },
        }
        with failing(f"deploy API {route.base_path}{route.rel_path} {route.method}"):
            value = (
                ctx.client()
                .request("POST", f"{api_cmd.MANAGEMENT}/createApi.http", None, {"apidoc": apidoc})
                .body
            )
        url = next(
            (
                r["url"]
                for r in api_cmd.route_rows(value)
                if r["verb"].upper() == route.method and r["url"].endswith(route.rel_path)
            ),
            "",
        )
        if not ctx.json:
            output.emit(f"  deployed API {route.method} {route.base_path}{route.rel_path} {url}")
    output.ok(
        f"deployed project {plan.project}: {len(plan.entities)} entities, {len(plan.apis)} API route(s)"
    )
    return 0


def undeploy(args: argparse.Namespace, ctx: Context) -> int:
    plan, _ = _plan(args)
    kept: list[str] = []
    for route in plan.apis:
        query = {"basepath": route.base_path, "relpath": route.rel_path, "operation": route.method}
        try:
            ctx.client().request("DELETE", f"{api_cmd.MANAGEMENT}/deleteApi.http", query)
        except ApiError as err:
            if err.status != 404:
                raise CliError(f"Unable to undeploy API {route.base_path}: {err}") from err
        else:
            if not ctx.json:
                output.emit(f"  removed API {route.method} {route.base_path}{route.rel_path}")
    removed = 0
    for entity in reversed(plan.entities):
        with failing(f"undeploy {_what(entity)}"):
            old = _existing(ctx, entity)
            if old is None:
                continue
            if _managed_by(old) != plan.project:
                kept.append(f"{_what(entity)} (not deployed by project {plan.project})")
                continue
            try:
                entity_request(ctx, "DELETE", entity.collection, _qname(entity))
            except ApiError as err:
                if err.status != 409:
                    raise
                kept.append(f"{_what(entity)} ({err.error})")
                continue
        removed += 1
        if not ctx.json:
            output.emit(f"  removed {_what(entity)}")
    for line in kept:
        output.note(f"kept {line}")
    output.ok(f"undeployed project {plan.project}: removed {removed} entities")
    return 0
