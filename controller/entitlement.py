"""Entitlement: may this caller touch this resource? The one place that decides.

Namespaces are tenants. A key has every right in its own namespace (an admin key in every
namespace). In another namespace it may only *read* and *activate*, and only what that
namespace published: a package with ``publish: true`` that is not a binding, and the actions
inside it (OpenWhisk's ``EntitlementProvider`` / ``PackageCollection`` rules). A binding may
point only at the binder's own package or a published one, and is followed at run time only
while that stays so. A sequence is checked component by component, recursively and with the
rights of whoever runs it, when it is created and each time it runs; it may run at most
``sequence_max_length`` atomic actions and nest as deep, and may not contain itself.

Callers: the API blueprints (namespace paths, package reads, bindings, rule actions, sequence
PUTs), ``controller.invoke.ActivationService`` (every invoke and every sequence run), the
workflow service (each node's action) and the web-action route (which runs the action under its
owner's identity, so it is entitled exactly as the owner is).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from controller.auth import Identity
from controller.entities import kv_dict, qualify_component, split_fqn
from controller.errors import FORBIDDEN, NOT_FOUND, ApiError
from controller.store.entities import EntityStore

BINDING_MISSING = "Binding references a package that does not exist."
BINDING_OF_BINDING = "Cannot bind to another package binding."
COMPONENT_MISSING = "Sequence component does not exist."
SELF_REFERENCE = "Sequence may not refer to itself."


class Privilege(Enum):
    READ = "read"
    PUT = "put"
    DELETE = "delete"
    ACTIVATE = "activate"


SHAREABLE = (Privilege.READ, Privilege.ACTIVATE)


def forbidden() -> ApiError:
    return ApiError(403, FORBIDDEN)


# ---- deciders ---------------------------------------------------------------------------------


def owns(caller: Identity, namespace: str) -> bool:
    return caller.admin or namespace in ("_", caller.namespace)


def namespace_of(caller: Identity, namespace: str) -> str:
    """The namespace a ``/namespaces/{ns}/...`` path names, if the caller may act in it: ``_``
    is the caller's own; another namespace only with an admin key."""
    if namespace in ("_", caller.namespace):
        return caller.namespace
    if caller.admin:
        return namespace
    raise forbidden()


def shared(package: dict | None, privilege: Privilege) -> bool:
    """Whether another namespace may use ``package`` (and the actions in it) this way."""
    return (
        privilege in SHAREABLE
        and package is not None
        and bool(package.get("publish"))
        and not package.get("binding")
    )


def bindable(caller_namespace: str, target: dict) -> bool:
    """A binding may point at the binder's own package or at a published one."""
    return target["namespace"] == caller_namespace or bool(target.get("publish"))


def too_many(count: int, limit: int) -> ApiError:
    return ApiError(400, f"Too many actions in the sequence (count: {count}, allowed: {limit}).")


# ---- checks against the store -----------------------------------------------------------------


def package_entitled(caller: Identity, namespace: str, package: dict, privilege: Privilege) -> None:
    """A package document of ``namespace``: the caller's own, or shared with it; 403 otherwise."""
    if not owns(caller, namespace) and not shared(package, privilege):
        raise forbidden()


def check_binding(target: dict | None, binder_namespace: str) -> None:
    """Before a binding is stored: its target exists, is a plain package, and is the binder's
    own or published."""
    if target is None:
        raise ApiError(400, BINDING_MISSING)
    if target.get("binding"):
        raise ApiError(400, BINDING_OF_BINDING)
    if not bindable(binder_namespace, target):
        raise forbidden()


@dataclass(frozen=True)
class ResolvedPackage:
    """Where a package's actions really live, and the parameters they inherit from it."""

    namespace: str  # namespace of the package that holds the actions
    name: str  # that package's name
    params: dict  # package parameters with the binding's on top
    doc: dict  # the package (or binding) document as stored


def resolve_package(entities: EntityStore, namespace: str, name: str) -> ResolvedPackage:
    """The package holding ``namespace/name``'s actions: the package itself, or (one level, as
    OpenWhisk allows) the package a binding points at while it may still be followed (it
    exists, is plain, and is the binder's or published; 404 otherwise), with the binding's
    parameters over the package's."""
    doc = entities.get(namespace, "packages", name)
    binding = doc.get("binding") or {}
    if not binding:
        return ResolvedPackage(namespace, name, kv_dict(doc.get("parameters", [])), doc)
    target = entities.find(binding["namespace"], "packages", binding["name"])
    if target is None or target.get("binding") or not bindable(namespace, target):
        raise ApiError(404, NOT_FOUND)
    params = {**kv_dict(target.get("parameters", [])), **kv_dict(doc.get("parameters", []))}
    return ResolvedPackage(binding["namespace"], binding["name"], params, doc)


def locate_action(entities: EntityStore, namespace: str, path: str) -> tuple[str, str, dict]:
    """``(namespace, path, inherited params)`` of the action stored for ``[pkg/]name``:
    a package's action stays where it is and inherits the package's parameters; through a
    binding it is the bound package's action with the binding's parameters on top."""
    package, _, action = path.rpartition("/")
    if not package:
        return namespace, path, {}
    resolved = resolve_package(entities, namespace, package)
    return resolved.namespace, f"{resolved.name}/{action}", resolved.params


def entitled_action(
    entities: EntityStore,
    caller: Identity,
    namespace: str,
    path: str,
    privilege: Privilege = Privilege.ACTIVATE,
) -> tuple[dict, dict]:
    """The action stored for ``namespace/[pkg/]name`` and its inherited parameters (package's,
    then binding's, then its own), if the caller may use it this way; 403 otherwise (before
    anything is looked up in another namespace, so nothing there can be probed)."""
    namespace = caller.namespace if namespace == "_" else namespace
    package = path.rpartition("/")[0]
    if not owns(caller, namespace):
        if not package or not shared(entities.find(namespace, "packages", package), privilege):
            raise forbidden()
    home, stored, inherited = locate_action(entities, namespace, path)
    action = entities.get(home, "actions", stored)
    return action, {**inherited, **kv_dict(action.get("parameters", []))}


def action_key(action: dict) -> str:
    """``ns/[pkg/]name`` where an action document is stored."""
    return f"{action['namespace']}/{action['name']}"


def sequence_plan(
    entities: EntityStore,
    caller: Identity,
    owner: str,
    components: list[str],
    limit: int,
    editing: tuple[str, list[str]] | None = None,
) -> int:
    """Check a sequence before it is stored or run: the caller is entitled to activate every
    component (recursively through nested sequences), each exists, none contains the sequence
    itself, at most ``limit`` atomic actions run and nesting is at most ``limit`` deep. Returns
    the number of atomic actions. ``editing`` = (``ns/name`` being PUT, its new components)
    so a cycle through the new definition is found before it is stored."""
    count = 0

    def walk(components: list[str], owner: str, ancestors: tuple[str, ...]) -> None:
        nonlocal count
        if len(ancestors) > limit:
            raise too_many(count + 1, limit)
        for component in components:
            ns, path = split_fqn(component, owner)
            try:
                action, _ = entitled_action(entities, caller, ns, path, Privilege.ACTIVATE)
            except ApiError as err:
                if err.status in (404, 409):
                    raise ApiError(400, COMPONENT_MISSING) from None
                raise
            key = action_key(action)
            if key in ancestors:
                raise ApiError(400, SELF_REFERENCE)
            nested = editing[1] if editing and key == editing[0] else None
            if nested is None and action["exec"]["kind"] == "sequence":
                nested = action["exec"]["components"]
            if nested is not None:
                walk(nested, key.split("/", 1)[0], (*ancestors, key))
                continue
            count += 1
            if count > limit:
                raise too_many(count, limit)

    walk(components, owner, (editing[0],) if editing else ())
    return count


def check_sequence_put(
    entities: EntityStore, caller: Identity, namespace: str, path: str, body, limits
) -> None:
    """Before a sequence action is stored at ``namespace/path``: ``sequence_plan`` over its
    components as they will be stored (a malformed body is left to ``build_action``)."""
    exec_ = body.get("exec") if isinstance(body, dict) else None
    if not isinstance(exec_, dict) or exec_.get("kind") != "sequence":
        return
    components = exec_.get("components")
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        return
    qualified = [qualify_component(c, namespace) for c in components]
    sequence_plan(
        entities,
        caller,
        namespace,
        qualified,
        limits.sequence_max_length,
        (f"{namespace}/{path}", qualified),
    )
