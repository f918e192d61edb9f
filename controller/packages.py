"""Packages: their documents, bindings, and how ``pkg/action`` resolves through them.

A package groups actions and gives them default parameters; a *binding* is a package in one's
own namespace that points at another package (``binding: {namespace, name}``) and adds its own
parameters on top. Parameters of an invoked action are, lowest first: the package's, the
binding's, the action's own (OpenWhisk's ``inherit``), then the invoke payload.

Called by the packages blueprint (documents, listing the contents) and the actions blueprint
(an action may only be created in an existing, non-binding package). The builders are pure;
how a path resolves through a binding, and who may follow it, is ``controller.entitlement``'s.
"""

from __future__ import annotations

import json

from controller.config import SystemLimits
from controller.entities import brief, check_name, entity_header, key_values_or_old, now_ms
from controller.errors import ApiError, malformed
from controller.store.entities import EntityStore

PACKAGE_TO_BINDING = "Resource is a package and cannot be converted into a binding."
NOT_ON_BINDING = "Operation not permitted on package binding."


def parse_binding(value, caller_namespace: str) -> dict:
    """``binding`` of a PUT body: ``{namespace, name}`` (namespace ``_`` = the caller's) or {}."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
        raise malformed(
            '\'binding\' must be {"namespace": string, "name": string} naming the bound package'
        )
    namespace = value.get("namespace") or "_"
    if not isinstance(namespace, str):
        raise malformed("'binding.namespace' must be a string")
    check_name(value["name"], "bound package name")
    return {"namespace": caller_namespace if namespace == "_" else namespace, "name": value["name"]}


def build_package(
    namespace: str, name: str, body: dict, limits: SystemLimits, old: dict | None, binding: dict
) -> dict:
    """The stored package document for a PUT (create or overwrite); ``binding`` is the parsed
    ``binding`` of the body (already checked against the store), {} for a plain package."""
    if not isinstance(body, dict):
        raise malformed("the body must be a JSON object")
    if old is not None:
        if binding and not old.get("binding"):
            raise ApiError(400, PACKAGE_TO_BINDING)
        binding = binding or old.get("binding") or {}
    params = key_values_or_old(body, "parameters", old)
    if len(json.dumps(params)) > limits.max_parameters:
        raise ApiError(
            413,
            f"The request content was malformed:\nparameters exceed allowed threshold of "
            f"{limits.max_parameters} bytes",
        )
    return {
        **entity_header(namespace, name, body, old),
        "parameters": params,
        "binding": binding,
        "updated": now_ms(),
    }


def package_view(doc: dict, actions: list[dict], params: list[dict] | None = None) -> dict:
    """GET of a package: the document plus its actions (``{name, version, annotations}``) and
    feeds (actions annotated ``feed``); for a binding, the bound package's contents and its
    parameters merged under the binding's."""
    contents = [
        {"name": a["name"], "version": a["version"], "annotations": a.get("annotations", [])}
        for a in actions
    ]
    feeds = [c for c in contents if any(kv.get("key") == "feed" for kv in c["annotations"])]
    out = {**doc, "actions": [c for c in contents if c not in feeds], "feeds": feeds}
    if params is not None:
        out["parameters"] = params
    return out


def package_brief(doc: dict) -> dict:
    """The list shape of a package (OpenWhisk lists the binding too)."""
    return {**brief(doc), "binding": doc.get("binding") or {}}


def require_plain_package(entities: EntityStore, namespace: str, package: str) -> dict:
    """Before creating an action in ``package``: it must exist and not be a binding."""
    doc = entities.get(namespace, "packages", package)
    if doc.get("binding"):
        raise ApiError(400, NOT_ON_BINDING)
    return doc


def package_not_empty(count: int) -> ApiError:
    return ApiError(
        409,
        f"Package not empty (contains {count} {'entity' if count == 1 else 'entities'}). "
        "Set force param or delete package contents.",
    )
