"""wskdeploy manifests read into a deployment plan (``tango project deploy|undeploy``).

The manifest format is wskdeploy's (apache/openwhisk-wskdeploy, ``specification/``):
``project: {name, packages: {...}}``, ``packages: {...}`` or the older ``package: {name, ...}``;
per package ``actions`` (``function`` or ``code``, ``runtime``, ``main``, ``inputs``, ``limits``,
``web``/``web-export``, ``annotations``, ``docker``), ``sequences`` (``actions: a, b``),
``triggers`` (``feed``/``source``, ``inputs``), ``rules`` (``trigger``, ``action``) and ``apis``
(``API name: base path: relative path: action: {method, response}``). A deployment file
(``project:``/``application:`` with the same nesting) overrides ``inputs``. Values ``$VAR`` and
``${VAR}`` inside strings come from the environment.

``load_plan`` is pure over text (file reads go through ``read``), so it is tested without a
platform; ``cli.commands.project`` sends the plan's entities.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cli.errors import CliError

MANAGED = "whisk-managed"  # wskdeploy's annotation: which project deployed the entity
TYPE_DEFAULTS = {"string": "", "integer": 0, "float": 0.0, "boolean": False, "json": {}}
KIND_BY_EXTENSION = {".py": "python:default"}
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
LIMIT_KEYS = {
    "timeout": "timeout",
    "memorySize": "memory",
    "memory": "memory",
    "logSize": "logs",
    "logs": "logs",
    "concurrentActivations": "concurrency",
    "concurrency": "concurrency",
}


@dataclass
class Entity:
    """One entity to PUT: ``collection`` (packages, actions, triggers, rules) at ``path``
    (``NAME`` or ``PACKAGE/NAME``) with its body."""

    collection: str
    path: str
    body: dict


@dataclass(frozen=True)
class ApiRoute:
    api_name: str
    base_path: str
    rel_path: str
    method: str
    action: str  # PACKAGE/NAME
    response: str


@dataclass
class Plan:
    project: str
    entities: list[Entity] = field(default_factory=list)  # in deploy order
    apis: list[ApiRoute] = field(default_factory=list)

    def managed(self, file: str) -> dict:
        return {"projectName": self.project, "file": file, "deployer": "tango project"}


def substitute(value: Any, env: Mapping[str, str]) -> Any:
    """``$VAR``/``${VAR}`` in strings (recursively), as wskdeploy reads them; a variable that
    is not set is an error naming it."""
    if isinstance(value, str):

        def one(m: re.Match) -> str:
            name = m.group(1) or m.group(2)
            if name not in env:
                raise CliError(
                    f"The manifest uses ${{{name}}}, which is not set in the environment."
                )
            return env[name]

        return ENV_REF.sub(one, value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return value


def input_value(spec: Any) -> Any:
    """An ``inputs`` entry: a value, a bare type name (its empty value), or ``{type, value,
    default, description}``."""
    if isinstance(spec, dict) and ({"type", "value", "default", "description"} & set(spec)):
        if "value" in spec:
            return spec["value"]
        if "default" in spec:
            return spec["default"]
        return TYPE_DEFAULTS.get(str(spec.get("type")), "")
    if isinstance(spec, str) and spec in TYPE_DEFAULTS:
        return TYPE_DEFAULTS[spec]
    return spec


def key_values(values: Mapping[str, Any] | None) -> list[dict]:
    return [{"key": k, "value": input_value(v)} for k, v in (values or {}).items()]


def packages_of(doc: Any, where: str) -> tuple[str | None, dict[str, dict]]:
    """(project name, {package name: package}) of a manifest or deployment document."""
    if not isinstance(doc, dict):
        raise CliError(f"{where}: expected a YAML mapping with 'project', 'packages' or 'package'.")
    project = doc.get("project") or doc.get("application")
    name = None
    if isinstance(project, dict):
        name = project.get("name")
        doc = project
    packages = dict(doc.get("packages") or {})
    single = doc.get("package")
    if isinstance(single, dict):
        if not single.get("name"):
            raise CliError(f"{where}: 'package' needs a 'name'.")
        packages[single["name"]] = single
    if not packages:
        raise CliError(f"{where}: no packages (expected 'packages:' or 'package: {{name: ...}}').")
    for pkg, body in packages.items():
        if not isinstance(body, dict):
            packages[pkg] = {}
    return name, packages


def merge_deployment(packages: dict[str, dict], deployment: dict[str, dict]) -> None:
    """A deployment file's ``inputs`` (package, action, trigger) override the manifest's."""
    for pkg, over in deployment.items():
        target = packages.get(pkg)
        if target is None:
            raise CliError(f"The deployment file names package '{pkg}', which the manifest lacks.")
        if over.get("inputs"):
            target["inputs"] = {**(target.get("inputs") or {}), **over["inputs"]}
        for section in ("actions", "triggers", "sequences"):
            for name, body in (over.get(section) or {}).items():
                entry = (target.get(section) or {}).get(name)
                if entry is None:
                    raise CliError(
                        f"The deployment file names {section[:-1]} '{name}' in package '{pkg}', "
                        "which the manifest lacks."
                    )
                if (body or {}).get("inputs"):
                    entry["inputs"] = {**(entry.get("inputs") or {}), **body["inputs"]}


def kind_of(runtime: str | None, function: str | None) -> str:
    """wskdeploy's ``runtime`` (``python:3``, ``python@3.11``) or the file's extension."""
    if runtime:
        return str(runtime).replace("@", ":")
    suffix = Path(function or "").suffix.lower()
    if suffix in KIND_BY_EXTENSION:
        return KIND_BY_EXTENSION[suffix]
    raise CliError(
        f"Cannot tell the runtime of '{function}': give 'runtime:' (e.g. python:3) in the manifest."
    )


def web_annotations(action: dict) -> dict:
    web = action.get("web", action.get("web-export"))
    if web is None:
        return {}
    text = str(web).lower()
    on = text in ("true", "yes", "raw")
    return {"web-export": on, "raw-http": text == "raw", "final": on}


def action_entity(pkg: str, name: str, action: dict, read: Callable[[str], str]) -> Entity:
    function, code = action.get("function"), action.get("code")
    if action.get("docker"):
        exec_: dict = {"kind": "blackbox", "image": action["docker"], "binary": False}
        if function:
            exec_["code"] = read(function)
    elif function or code:
        # inline code without a runtime is taken as Python, Tango's runtime
        exec_ = {
            "kind": kind_of(action.get("runtime"), function or "inline.py"),
            "code": code if code is not None else read(str(function)),
            "binary": False,
        }
    else:
        raise CliError(f"Action '{pkg}/{name}' has neither 'function' nor 'code'.")
    if action.get("main"):
        exec_["main"] = action["main"]
    body: dict = {"exec": exec_}
    limits = {LIMIT_KEYS[k]: v for k, v in (action.get("limits") or {}).items() if k in LIMIT_KEYS}
    if limits:
        body["limits"] = limits
    if action.get("inputs"):
        body["parameters"] = key_values(action["inputs"])
    annotations = {**(action.get("annotations") or {}), **web_annotations(action)}
    if annotations:
        body["annotations"] = [{"key": k, "value": v} for k, v in annotations.items()]
    return Entity("actions", f"{pkg}/{name}", body)


def sequence_entity(pkg: str, namespace: str, name: str, seq: dict) -> Entity:
    names = seq.get("actions")
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        raise CliError(f"Sequence '{pkg}/{name}' lists no actions.")
    components = [n if n.startswith("/") else f"/{namespace}/{pkg}/{n}" for n in names]
    body: dict = {"exec": {"kind": "sequence", "components": components}}
    annotations = web_annotations(seq)
    if annotations:
        body["annotations"] = [{"key": k, "value": v} for k, v in annotations.items()]
    return Entity("actions", f"{pkg}/{name}", body)


def load_plan(
    manifest_text: str,
    manifest_dir: Path,
    deployment_text: str | None = None,
    env: Mapping[str, str] | None = None,
    project: str | None = None,
    namespace: str = "_",
) -> Plan:
    """The entities of a manifest (with a deployment file's overrides) in deploy order:
    packages, actions, sequences, triggers, rules; then the API routes."""
    env = os.environ if env is None else env
    try:
        doc = yaml.safe_load(manifest_text)
        over = yaml.safe_load(deployment_text) if deployment_text else None
    except yaml.YAMLError as exc:
        raise CliError(f"The manifest is not valid YAML: {exc}") from exc
    name, packages = packages_of(substitute(doc, env), "manifest")
    if over is not None:
        dep_name, dep_packages = packages_of(substitute(over, env), "deployment file")
        merge_deployment(packages, dep_packages)
        name = name or dep_name
    plan = Plan(project or name or next(iter(packages)))

    def read(path: str) -> str:
        file = manifest_dir / path
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"The manifest's function file {file} cannot be read: {exc}") from exc

    actions: list[Entity] = []
    sequences: list[Entity] = []
    triggers: list[Entity] = []
    rules: list[Entity] = []
    for pkg, body in packages.items():
        package_body: dict = {}
        if body.get("inputs"):
            package_body["parameters"] = key_values(body["inputs"])
        if body.get("annotations"):
            package_body["annotations"] = [
                {"key": k, "value": v} for k, v in body["annotations"].items()
            ]
        if body.get("public") is not None:
            package_body["publish"] = bool(body["public"])
        plan.entities.append(Entity("packages", pkg, package_body))
        for aname, action in (body.get("actions") or {}).items():
            actions.append(action_entity(pkg, aname, action or {}, read))
        for sname, seq in (body.get("sequences") or {}).items():
            sequences.append(sequence_entity(pkg, namespace, sname, seq or {}))
        for tname, trig in (body.get("triggers") or {}).items():
            trig = trig or {}
            tbody: dict = {}
            if trig.get("inputs"):
                tbody["parameters"] = key_values(trig["inputs"])
            feed = trig.get("feed") or trig.get("source")
            if feed:
                tbody["annotations"] = [{"key": "feed", "value": feed}]
            triggers.append(Entity("triggers", tname, tbody))
        for rname, rule in (body.get("rules") or {}).items():
            rule = rule or {}
            target = str(rule.get("action", ""))
            if not target.startswith("/"):
                target = f"/{namespace}/{target if '/' in target else f'{pkg}/{target}'}"
            rules.append(
                Entity(
                    "rules",
                    rname,
                    {"trigger": f"/{namespace}/{rule.get('trigger')}", "action": target},
                )
            )
        for api_name, bases in (body.get("apis") or {}).items():
            for base, rels in (bases or {}).items():
                for rel, targets in (rels or {}).items():
                    for target, how in (targets or {}).items():
                        how = how or {}
                        plan.apis.append(
                            ApiRoute(
                                str(api_name),
                                "/" + str(base).strip("/"),
                                "/" + str(rel).strip("/"),
                                str(how.get("method", "GET")).upper(),
                                target if "/" in str(target) else f"{pkg}/{target}",
                                str(how.get("response", "json")),
                            )
                        )
    plan.entities += actions + sequences + triggers + rules
    return plan
