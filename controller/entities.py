"""Action entity documents: validation of PUT bodies against OpenWhisk's rules and limits, the
shapes returned by GET and list, and fully-qualified names.

Called by the actions blueprint (and by packages/sequences); pure functions over dicts.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from common.clock import now_ms
from controller.config import SystemLimits
from controller.errors import ApiError, malformed
from controller.limits import check_archive
from controller.runtimes import normalise_kind

# OpenWhisk's entity-name rule; its ``\w`` is ASCII (Java regexes), so is ours.
NAME_RE = re.compile(r"\A([\w]|[\w][\w@ .-]*[\w@.-]+)\Z", re.ASCII)


def check_name(name: str, what: str = "name") -> str:
    if not isinstance(name, str) or not name or len(name) > 256 or not NAME_RE.match(name):
        shown = name[:60] if isinstance(name, str) else name
        raise ApiError(
            400,
            f"The {what} '{shown}' is not valid: use ASCII letters, digits, '_', '@', '.', '-' "
            "and spaces, starting with a letter, digit or '_' (at most 256 characters).",
        )
    return name


def bump_version(version: str | None) -> str:
    if not version:
        return "0.0.1"
    major, minor, patch = (int(p) for p in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


def key_values(value, field: str) -> list[dict]:
    """Validate an OpenWhisk ``[{key, value}]`` list."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(kv, dict) and isinstance(kv.get("key"), str) for kv in value
    ):
        raise malformed(f'\'{field}\' must be a list of {{"key": string, "value": any}} objects')
    return [{"key": kv["key"], "value": kv.get("value")} for kv in value]


def key_values_or_old(body: dict, field: str, old: dict | None) -> list[dict]:
    """A ``[{key, value}]`` field of a PUT body, or the stored document's when the body omits it
    (an update changes only what it names)."""
    if field in body:
        return key_values(body.get(field), field)
    return list((old or {}).get(field, []))


def entity_header(namespace: str, name: str, body: dict, old: dict | None) -> dict:
    """The fields every entity document starts with; the version is bumped on each update."""
    return {
        "namespace": namespace,
        "name": name,
        "version": bump_version(old["version"]) if old else "0.0.1",
        "publish": bool(body.get("publish", (old or {}).get("publish", False))),
        "annotations": key_values_or_old(body, "annotations", old),
    }


def kv_get(items: list[dict], key: str, default=None):
    for kv in items:
        if kv.get("key") == key:
            return kv.get("value")
    return default


def kv_set(items: list[dict], key: str, value) -> list[dict]:
    out = [kv for kv in items if kv.get("key") != key]
    out.append({"key": key, "value": value})
    return out


def kv_dict(items: list[dict]) -> dict:
    return {kv["key"]: kv.get("value") for kv in items}


def validate_limits(given: dict | None, limits: SystemLimits, old: dict | None = None) -> dict:
    base = dict(
        old
        or {
            "timeout": limits.std_timeout,
            "memory": limits.std_memory,
            "logs": limits.std_logs,
            "concurrency": limits.std_concurrency,
        }
    )
    if given is None:
        return base
    if not isinstance(given, dict):
        raise malformed("'limits' must be an object")
    checks = [
        ("timeout", limits.min_timeout, limits.max_timeout, "duration", "milliseconds"),
        ("memory", limits.min_memory, limits.max_memory, "memory", "MB"),
        ("logs", limits.min_logs, limits.max_logs, "log size", "MB"),
        ("concurrency", limits.min_concurrency, limits.max_concurrency, "concurrency", ""),
    ]
    for key, lo, hi, label, unit in checks:
        if key not in given or given[key] is None:
            continue
        v = given[key]
        if not isinstance(v, int) or isinstance(v, bool):
            raise malformed(f"'limits.{key}' must be an integer")
        suffix = f" {unit}" if unit else ""
        if v < lo:
            raise malformed(
                f"requirement failed: {label} {v}{suffix} below allowed threshold of {lo}{suffix}"
            )
        if v > hi:
            raise malformed(
                f"requirement failed: {label} {v}{suffix} exceeds allowed threshold of {hi}{suffix}"
            )
        base[key] = v
    return base


def validate_exec(exec_: dict | None, limits: SystemLimits, old: dict | None) -> dict:
    if exec_ is None:
        if old is None:
            raise malformed('\'exec\' is required: {"kind": ..., "code": ...}')
        return old
    if not isinstance(exec_, dict) or not isinstance(exec_.get("kind"), str):
        raise malformed('\'exec.kind\' is required (e.g. "python:3.11", "blackbox", "sequence")')
    kind = normalise_kind(exec_["kind"])
    if kind is None:
        raise ApiError(
            400,
            f"kind '{exec_['kind']}' not in Set(python:3.11, python:3, python:default, vlm, blackbox, sequence)",
        )
    if kind == "sequence":
        comps = exec_.get("components")
        if not isinstance(comps, list) or not comps or not all(isinstance(c, str) for c in comps):
            raise malformed(
                "'exec.components' must be a non-empty list of fully qualified action names"
            )
        if len(comps) > limits.sequence_max_length:
            raise ApiError(
                400,
                f"Too many actions in the sequence (count: {len(comps)}, allowed: {limits.sequence_max_length}).",
            )
        for component in comps:
            _, path = split_fqn(component, "_")
            for part in path.split("/"):
                check_name(part, "sequence component name")
        return {"kind": "sequence", "components": comps, "binary": False}
    code = exec_.get("code")
    binary = bool(exec_.get("binary", False))
    out: dict = {"kind": kind, "binary": binary}
    if kind == "blackbox":
        image = exec_.get("image")
        if not isinstance(image, str) or not image:
            raise malformed("'exec.image' is required for blackbox actions")
        out["image"] = image
        if code:
            out["code"] = code
    else:
        if not isinstance(code, str) or (not code and kind != "vlm"):
            raise malformed("'exec.code' is required and must be a string")
        out["code"] = code
    if binary and out.get("code"):
        try:
            base64.b64decode(out["code"], validate=True)
        except binascii.Error:
            raise malformed("'exec.code' must be base64 when 'exec.binary' is true") from None
    if len(out.get("code") or "") > limits.max_code:
        raise ApiError(
            413,
            f"The request content was malformed:\ncode size exceeds allowed threshold of {limits.max_code} bytes",
        )
    if binary and out.get("code"):
        check_archive(out["code"], limits)
    if exec_.get("main"):
        out["main"] = str(exec_["main"])
    return out


def build_action(
    namespace: str, path: str, body: dict, limits: SystemLimits, old: dict | None
) -> dict:
    """The stored action document for a PUT (create or overwrite)."""
    if not isinstance(body, dict):
        raise malformed("the body must be a JSON object")
    package, _, name = path.rpartition("/")
    exec_ = validate_exec(body.get("exec"), limits, old.get("exec") if old else None)
    params = key_values_or_old(body, "parameters", old)
    if len(json.dumps(params)) > limits.max_parameters:
        raise ApiError(
            413,
            f"The request content was malformed:\nparameters exceed allowed threshold of {limits.max_parameters} bytes",
        )
    annotations = key_values_or_old(body, "annotations", old)
    removed = body.get("delAnnotations") or []
    if not isinstance(removed, list) or not all(isinstance(k, str) for k in removed):
        raise malformed("'delAnnotations' must be a list of annotation keys (strings)")
    annotations = [kv for kv in annotations if kv["key"] not in removed]
    annotations = kv_set(annotations, "exec", exec_["kind"])
    if exec_["kind"] == "sequence":  # stored fully qualified, as OpenWhisk stores them
        exec_ = {
            **exec_,
            "components": [qualify_component(c, namespace) for c in exec_["components"]],
        }
    if kv_get(annotations, "provide-api-key") is None:
        annotations = kv_set(annotations, "provide-api-key", False)
    return {
        "namespace": f"{namespace}/{package}" if package else namespace,
        "name": name,
        "version": bump_version(old["version"]) if old else "0.0.1",
        "publish": bool(body.get("publish", (old or {}).get("publish", False))),
        "exec": exec_,
        "annotations": annotations,
        "parameters": params,
        "limits": validate_limits(body.get("limits"), limits, (old or {}).get("limits")),
        "updated": now_ms(),
    }


def brief(doc: dict) -> dict:
    """The list shape of an entity."""
    out = {
        k: doc[k]
        for k in ("namespace", "name", "version", "publish", "annotations", "limits", "updated")
        if k in doc
    }
    if "exec" in doc:
        out["exec"] = {"binary": doc["exec"].get("binary", False)}
    return out


def without_code(doc: dict) -> dict:
    out = dict(doc)
    out["exec"] = {k: v for k, v in doc["exec"].items() if k not in ("code",)}
    return out


def fully_qualified(namespace: str, path: str) -> str:
    return f"/{namespace}/{path}"


def qualify_component(component: str, namespace: str) -> str:
    """``/ns/[pkg/]name`` for a sequence component (``_`` and bare names: ``namespace``)."""
    ns, path = split_fqn(component, namespace)
    return f"/{ns}/{path}"


def split_fqn(name: str, default_namespace: str) -> tuple[str, str]:
    """``/ns/pkg/a`` → (ns, pkg/a); ``pkg/a`` or ``a`` → (default, path). ``_`` is the default."""
    if name.startswith("/"):
        parts = name.strip("/").split("/")
        if len(parts) < 2 or len(parts) > 3:
            raise ApiError(
                400,
                f"The name '{name}' is not a valid fully qualified name (/namespace[/package]/name).",
            )
        ns = default_namespace if parts[0] == "_" else parts[0]
        return ns, "/".join(parts[1:])
    parts = name.split("/")
    if len(parts) > 2:
        raise ApiError(400, f"The name '{name}' is not valid (at most package/name).")
    return default_namespace, name
