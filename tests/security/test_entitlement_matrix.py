"""The entitlement matrix: every resource kind × verb × {own, another namespace's private,
another's shared (published)} × {key, no key}, as the caller ``guest`` sees a world in which
both ``guest`` and ``nsb`` hold the same resources. One row per case; the expected status is
OpenWhisk's (403 before anything of another namespace is looked up, so nothing there can be
probed; web actions are public by design, and run under their owner's rights)."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from tests.controller.conftest import basic
from tests.security.conftest import CODE, ran

WORKFLOW = "name: wf\nslo: {latency: 5000ms, percentile: 99}\nnodes:\n  - {id: n, action: a}\n"
NS = "/api/v1/namespaces"


def seq(*components: str, **extra) -> dict:
    return {"exec": {"kind": "sequence", "components": list(components)}, **extra}


def build_world(client, headers, ns: str) -> None:
    """The same resources in namespace ``ns``."""
    puts = [
        ("actions/a", CODE),
        ("packages/priv", {}),
        ("actions/priv/x", CODE),
        ("packages/pub", {"publish": True}),
        ("actions/pub/x", CODE),
        ("actions/pub/seq", seq(f"/{ns}/pub/x")),
        ("actions/pub/leak", seq(f"/{ns}/a")),  # published, but runs a private action
        ("actions/seq", seq(f"/{ns}/a")),
        ("actions/web", {**CODE, "annotations": [{"key": "web-export", "value": True}]}),
        ("packages/bnd", {"binding": {"namespace": ns, "name": "pub"}}),
        ("triggers/t", {}),
        ("rules/r", {"trigger": f"/{ns}/t", "action": f"/{ns}/a"}),
        ("workflows/wf", {"definition": WORKFLOW}),
    ]
    for path, body in puts:
        r = client.put(f"{NS}/_/{path}", json=body, headers=headers)
        assert r.status_code == 200, (ns, path, r.json)


class Case(NamedTuple):
    kind: str
    verb: str
    whose: str  # own | private | shared
    method: str
    path: str  # {ns}: guest for own, nsb otherwise
    body: dict | None
    status: int
    key: bool = True


OWN, PRIV, SHARED = "own", "private", "shared"
CASES = [
    # actions
    Case("action", "get", OWN, "GET", "{ns}/actions/a", None, 200),
    Case("action", "get", PRIV, "GET", "{ns}/actions/a", None, 403),
    Case("action", "get", PRIV, "GET", "{ns}/actions/priv/x", None, 403),
    Case("action", "get", SHARED, "GET", "{ns}/actions/pub/x", None, 200),
    Case("action", "put", OWN, "PUT", "{ns}/actions/a?overwrite=true", CODE, 200),
    Case("action", "put", PRIV, "PUT", "{ns}/actions/a?overwrite=true", CODE, 403),
    Case("action", "put", SHARED, "PUT", "{ns}/actions/pub/x?overwrite=true", CODE, 403),
    Case("action", "delete", OWN, "DELETE", "{ns}/actions/a", None, 200),
    Case("action", "delete", PRIV, "DELETE", "{ns}/actions/a", None, 403),
    Case("action", "delete", SHARED, "DELETE", "{ns}/actions/pub/x", None, 403),
    Case("action", "invoke", OWN, "POST", "{ns}/actions/a?blocking=true", {}, 200),
    Case("action", "invoke", PRIV, "POST", "{ns}/actions/a?blocking=true", {}, 403),
    Case("action", "invoke", PRIV, "POST", "{ns}/actions/priv/x?blocking=true", {}, 403),
    Case("action", "invoke", SHARED, "POST", "{ns}/actions/pub/x?blocking=true", {}, 200),
    Case("action", "list", OWN, "GET", "{ns}/actions", None, 200),
    Case("action", "list", PRIV, "GET", "{ns}/actions", None, 403),
    Case("action", "get", OWN, "GET", "{ns}/actions/a", None, 401, key=False),
    Case("action", "invoke", OWN, "POST", "{ns}/actions/a", {}, 401, key=False),
    Case("action", "invoke", SHARED, "POST", "{ns}/actions/pub/x", {}, 401, key=False),
    # packages
    Case("package", "get", OWN, "GET", "{ns}/packages/priv", None, 200),
    Case("package", "get", PRIV, "GET", "{ns}/packages/priv", None, 403),
    Case("package", "get", SHARED, "GET", "{ns}/packages/pub", None, 200),
    Case("package", "put", OWN, "PUT", "{ns}/packages/priv?overwrite=true", {}, 200),
    Case("package", "put", PRIV, "PUT", "{ns}/packages/priv?overwrite=true", {}, 403),
    Case("package", "put", SHARED, "PUT", "{ns}/packages/pub?overwrite=true", {}, 403),
    Case("package", "delete", OWN, "DELETE", "{ns}/packages/priv?force=true", None, 200),
    Case("package", "delete", PRIV, "DELETE", "{ns}/packages/priv?force=true", None, 403),
    Case("package", "delete", SHARED, "DELETE", "{ns}/packages/pub?force=true", None, 403),
    Case("package", "list", PRIV, "GET", "{ns}/packages", None, 403),
    Case("package", "list", SHARED, "GET", "{ns}/packages?public=true", None, 200),
    Case("package", "get", SHARED, "GET", "{ns}/packages/pub", None, 401, key=False),
    # bindings: made by guest (to a package of {ns}), and nsb's own
    Case("binding", "put", OWN, "PUT", "_/packages/b2", {"binding": {"name": "priv"}}, 200),
    Case(
        "binding",
        "put",
        PRIV,
        "PUT",
        "_/packages/b2",
        {"binding": {"namespace": "nsb", "name": "priv"}},
        403,
    ),
    Case(
        "binding",
        "put",
        SHARED,
        "PUT",
        "_/packages/b2",
        {"binding": {"namespace": "nsb", "name": "pub"}},
        200,
    ),
    Case("binding", "get", OWN, "GET", "{ns}/packages/bnd", None, 200),
    Case("binding", "get", PRIV, "GET", "{ns}/packages/bnd", None, 403),
    Case("binding", "invoke", OWN, "POST", "{ns}/actions/bnd/x?blocking=true", {}, 200),
    Case("binding", "invoke", PRIV, "POST", "{ns}/actions/bnd/x?blocking=true", {}, 403),
    # triggers
    Case("trigger", "get", OWN, "GET", "{ns}/triggers/t", None, 200),
    Case("trigger", "get", PRIV, "GET", "{ns}/triggers/t", None, 403),
    Case("trigger", "put", OWN, "PUT", "{ns}/triggers/t?overwrite=true", {}, 200),
    Case("trigger", "put", PRIV, "PUT", "{ns}/triggers/t?overwrite=true", {}, 403),
    Case("trigger", "delete", OWN, "DELETE", "{ns}/triggers/t", None, 200),
    Case("trigger", "delete", PRIV, "DELETE", "{ns}/triggers/t", None, 403),
    Case("trigger", "fire", OWN, "POST", "{ns}/triggers/t", {}, 202),
    Case("trigger", "fire", PRIV, "POST", "{ns}/triggers/t", {}, 403),
    Case("trigger", "fire", OWN, "POST", "{ns}/triggers/t", {}, 401, key=False),
    # rules
    Case("rule", "get", OWN, "GET", "{ns}/rules/r", None, 200),
    Case("rule", "get", PRIV, "GET", "{ns}/rules/r", None, 403),
    Case(
        "rule",
        "put",
        OWN,
        "PUT",
        "{ns}/rules/r?overwrite=true",
        {"trigger": "/_/t", "action": "/_/a"},
        200,
    ),
    Case(
        "rule",
        "put",
        PRIV,
        "PUT",
        "{ns}/rules/r?overwrite=true",
        {"trigger": "/_/t", "action": "/_/a"},
        403,
    ),
    Case("rule", "put", PRIV, "PUT", "_/rules/r2", {"trigger": "/_/t", "action": "/nsb/a"}, 400),
    Case("rule", "put", SHARED, "PUT", "_/rules/r2", {"trigger": "/_/t", "action": "/_/bx/x"}, 200),
    Case("rule", "enable", OWN, "POST", "{ns}/rules/r", {"status": "inactive"}, 200),
    Case("rule", "enable", PRIV, "POST", "{ns}/rules/r", {"status": "inactive"}, 403),
    Case("rule", "delete", OWN, "DELETE", "{ns}/rules/r", None, 200),
    Case("rule", "delete", PRIV, "DELETE", "{ns}/rules/r", None, 403),
    # workflows
    Case("workflow", "get", OWN, "GET", "{ns}/workflows/wf", None, 200),
    Case("workflow", "get", PRIV, "GET", "{ns}/workflows/wf", None, 403),
    Case(
        "workflow",
        "put",
        OWN,
        "PUT",
        "{ns}/workflows/wf?overwrite=true",
        {"definition": WORKFLOW},
        200,
    ),
    Case(
        "workflow",
        "put",
        PRIV,
        "PUT",
        "{ns}/workflows/wf?overwrite=true",
        {"definition": WORKFLOW},
        403,
    ),
    Case(
        "workflow",
        "run",
        OWN,
        "POST",
        "{ns}/workflows/wf?blocking=true&policy=fixed:small",
        {},
        200,
    ),
    Case(
        "workflow",
        "run",
        PRIV,
        "POST",
        "{ns}/workflows/wf?blocking=true&policy=fixed:small",
        {},
        403,
    ),
    Case("workflow", "delete", OWN, "DELETE", "{ns}/workflows/wf", None, 200),
    Case("workflow", "delete", PRIV, "DELETE", "{ns}/workflows/wf", None, 403),
    Case("workflow", "list", PRIV, "GET", "{ns}/workflow-runs", None, 403),
    Case("workflow", "run", OWN, "POST", "{ns}/workflows/wf", {}, 401, key=False),
    # sequences: created by guest naming {ns}'s actions, and invoked
    Case("sequence", "put", OWN, "PUT", "_/actions/s2", seq("/guest/a"), 200),
    Case("sequence", "put", PRIV, "PUT", "_/actions/s2", seq("/nsb/a"), 403),
    Case("sequence", "put", PRIV, "PUT", "_/actions/s2", seq("/nsb/priv/x"), 403),
    Case("sequence", "put", PRIV, "PUT", "_/actions/s2", seq("/nsb/seq"), 403),
    Case("sequence", "put", SHARED, "PUT", "_/actions/s2", seq("/nsb/pub/x"), 200),
    Case("sequence", "put", SHARED, "PUT", "_/actions/s2", seq("/nsb/pub/leak"), 403),
    Case("sequence", "invoke", OWN, "POST", "{ns}/actions/seq?blocking=true", {}, 200),
    Case("sequence", "invoke", PRIV, "POST", "{ns}/actions/seq?blocking=true", {}, 403),
    Case("sequence", "invoke", SHARED, "POST", "{ns}/actions/pub/seq?blocking=true", {}, 200),
    # a published sequence runs with the caller's rights: its private component does not run
    Case("sequence", "invoke", SHARED, "POST", "{ns}/actions/pub/leak?blocking=true", {}, 502),
]

# Web actions: public by design (no key needed), only what the owner web-exported, run under
# the owner's rights; {ns} is the owner, the caller sends no key (or guest's).
WEB = [
    Case("web", "get", OWN, "GET", "/api/v1/web/{ns}/default/web.json", None, 200, key=False),
    Case("web", "get", PRIV, "GET", "/api/v1/web/{ns}/default/web.json", None, 200, key=False),
    Case("web", "get", PRIV, "GET", "/api/v1/web/{ns}/default/web.json", None, 200),
    Case("web", "get", PRIV, "GET", "/api/v1/web/{ns}/default/a.json", None, 404, key=False),
    Case("web", "get", PRIV, "GET", "/api/v1/web/{ns}/priv/x.json", None, 404, key=False),
    Case("web", "get", SHARED, "GET", "/api/v1/web/{ns}/pub/x.json", None, 404, key=False),
]


def case_id(c: Case) -> str:
    return f"{c.kind}-{c.verb}-{c.whose}-{'key' if c.key else 'nokey'}-{c.path.split('?')[0]}"


@pytest.fixture
def world(platform, guest):
    client, services, fake = platform
    nsb = basic(services.subjects.create("nsb").api_key)
    build_world(client, guest, "guest")
    build_world(client, nsb, "nsb")
    r = client.put(
        f"{NS}/_/packages/bx", json={"binding": {"namespace": "nsb", "name": "pub"}}, headers=guest
    )
    assert r.status_code == 200
    fake.requests.clear()
    return client, fake


@pytest.mark.parametrize("case", CASES + WEB, ids=case_id)
def test_entitlement(world, guest, case: Case):
    client, fake = world
    ns = "guest" if case.whose == OWN else "nsb"
    path = case.path.format(ns=ns)
    url = path if path.startswith("/api/v1/web/") else f"{NS}/{path}"
    r = client.open(url, method=case.method, json=case.body, headers=guest if case.key else {})
    assert r.status_code == case.status, r.get_data(as_text=True)[:300]
    if 400 <= r.status_code < 500:
        assert set(r.json) == {"error", "code"}
    if case.status in (401, 403):
        assert fake.requests == []  # nothing ran
    if case.kind == "sequence" and case.verb == "invoke" and case.status == 502:
        assert "nsb/a" not in ran(fake)
        assert r.json["response"]["result"]["error"].startswith("The supplied authentication")


def test_records_of_a_shared_sequence_belong_to_the_caller(world, guest, platform):
    client, fake = world
    _, services, _ = platform
    r = client.post(f"{NS}/nsb/actions/pub/seq?blocking=true", json={"x": 1}, headers=guest)
    assert r.status_code == 200
    services.activations.flush()
    mine = services.activations.list("guest", None, 50, 0)
    assert {rec["activationId"] for rec in mine} >= {r.json["activationId"], *r.json["logs"]}
    assert services.activations.list("nsb", None, 50, 0) == []  # the owner sees no input
