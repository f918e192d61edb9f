"""Packages REST API against a fresh store and the fake invoker: create/update/get/list/delete,
force delete, publish and ``?public=true``, default parameters inherited by the package's
actions, bindings, ``pkg/action`` addressing; responses checked against OpenWhisk's API spec."""

from __future__ import annotations

from tests.controller.conftest import basic
from tests.swagger import validate as conforms

CODE = {"exec": {"kind": "python:3", "code": "def main(args):\n    return args\n"}}
API = "/api/v1/namespaces/_"


def put_package(client, guest, name, body=None, overwrite=False):
    q = "?overwrite=true" if overwrite else ""
    return client.put(f"{API}/packages/{name}{q}", json=body or {}, headers=guest)


def put_action(client, guest, path, body=CODE):
    return client.put(f"{API}/actions/{path}", json=body, headers=guest)


def test_create_get_update_list_and_conflict(platform, guest):
    client, _, _ = platform
    r = put_package(client, guest, "utils", {"parameters": [{"key": "greeting", "value": "hi"}]})
    assert r.status_code == 200
    doc = r.json
    assert (doc["namespace"], doc["name"], doc["version"], doc["binding"]) == (
        "guest",
        "utils",
        "0.0.1",
        {},
    )
    conforms(doc, "Package")
    assert put_package(client, guest, "utils").status_code == 409
    r = put_package(client, guest, "utils", {"publish": True}, overwrite=True)
    assert r.json["version"] == "0.0.2" and r.json["publish"] is True
    assert r.json["parameters"] == [{"key": "greeting", "value": "hi"}]  # kept: not in the body
    got = client.get(f"{API}/packages/utils", headers=guest).json
    assert got["actions"] == [] and got["feeds"] == []
    conforms(got, "Package")
    listed = client.get(f"{API}/packages", headers=guest).json
    assert [p["name"] for p in listed] == ["utils"]
    conforms(listed, "Package", array=True)


def test_actions_in_a_package_inherit_its_parameters(platform, guest):
    client, _, fake = platform
    assert put_action(client, guest, "nopkg/a").status_code == 404  # the package must exist
    put_package(
        client,
        guest,
        "utils",
        {"parameters": [{"key": "greeting", "value": "hi"}, {"key": "who", "value": "pkg"}]},
    )
    body = {**CODE, "parameters": [{"key": "who", "value": "action"}]}
    r = put_action(client, guest, "utils/echo", body)
    assert r.status_code == 200 and r.json["namespace"] == "guest/utils"
    r = client.post(
        f"{API}/actions/utils/echo?blocking=true&result=true", json={"x": 1}, headers=guest
    )
    assert r.status_code == 200
    assert r.json == {"greeting": "hi", "who": "action", "x": 1}  # package < action < payload
    assert fake.requests[-1]["action"]["path"] == "guest/utils/echo"
    got = client.get(f"{API}/actions/utils/echo", headers=guest).json
    assert {"key": "greeting", "value": "hi"} in got["parameters"]
    conforms(got, "Action")
    pkg = client.get(f"{API}/packages/utils", headers=guest).json
    assert [a["name"] for a in pkg["actions"]] == ["echo"] and pkg["actions"][0][
        "version"
    ] == "0.0.1"
    conforms(pkg, "Package")
    assert [a["name"] for a in client.get(f"{API}/actions/utils/", headers=guest).json] == ["echo"]
    # activations of package actions are listed under pkg/action
    names = [
        a["name"] for a in client.get(f"{API}/activations?name=utils/echo", headers=guest).json
    ]
    assert names == ["echo"]


def test_sequence_components_may_live_in_packages(platform, guest):
    client, _, _ = platform
    put_package(client, guest, "p", {"parameters": [{"key": "k", "value": 1}]})
    put_action(client, guest, "p/one")
    put_action(client, guest, "seq", {"exec": {"kind": "sequence", "components": ["/_/p/one"]}})
    r = client.post(f"{API}/actions/seq?blocking=true&result=true", json={"x": 2}, headers=guest)
    assert r.status_code == 200 and r.json == {"k": 1, "x": 2}


def test_delete_needs_force_when_not_empty(platform, guest):
    client, services, _ = platform
    put_package(client, guest, "full")
    put_action(client, guest, "full/a")
    put_action(client, guest, "full/b")
    r = client.delete(f"{API}/packages/full", headers=guest)
    assert r.status_code == 409 and r.json["error"].startswith(
        "Package not empty (contains 2 entities)"
    )
    r = client.delete(f"{API}/packages/full?force=true", headers=guest)
    assert r.status_code == 200 and r.json["name"] == "full"
    assert services.entities.list("guest", "actions", "full") == []
    assert client.get(f"{API}/packages/full", headers=guest).status_code == 404


def test_binding_adds_parameters_and_resolves_actions(platform, guest):
    client, _, fake = platform
    put_package(
        client, guest, "base", {"parameters": [{"key": "a", "value": 1}, {"key": "b", "value": 1}]}
    )
    put_action(client, guest, "base/echo")
    r = put_package(
        client,
        guest,
        "mine",
        {"binding": {"namespace": "_", "name": "base"}, "parameters": [{"key": "b", "value": 2}]},
    )
    assert r.status_code == 200 and r.json["binding"] == {"namespace": "guest", "name": "base"}
    conforms(r.json, "Package")
    got = client.get(f"{API}/packages/mine", headers=guest).json
    assert [a["name"] for a in got["actions"]] == ["echo"]
    assert got["parameters"] == [{"key": "a", "value": 1}, {"key": "b", "value": 2}]
    conforms(got, "Package")
    r = client.post(
        f"{API}/actions/mine/echo?blocking=true&result=true", json={"c": 3}, headers=guest
    )
    assert r.json == {"a": 1, "b": 2, "c": 3}
    assert fake.requests[-1]["action"]["path"] == "guest/base/echo"
    assert [a["name"] for a in client.get(f"{API}/actions/mine/", headers=guest).json] == ["echo"]
    r = put_action(client, guest, "mine/new")
    assert r.status_code == 400 and r.json["error"] == "Operation not permitted on package binding."
    # a binding can be deleted without force; the bound package is untouched
    assert client.delete(f"{API}/packages/mine", headers=guest).status_code == 200
    assert client.get(f"{API}/packages/base", headers=guest).status_code == 200


def test_binding_rules(platform, guest):
    client, services, _ = platform
    r = put_package(client, guest, "b1", {"binding": {"namespace": "_", "name": "missing"}})
    assert (
        r.status_code == 400
        and r.json["error"] == "Binding references a package that does not exist."
    )
    put_package(client, guest, "base")
    put_package(client, guest, "b1", {"binding": {"name": "base"}})
    r = put_package(client, guest, "b2", {"binding": {"name": "b1"}})
    assert r.status_code == 400 and r.json["error"] == "Cannot bind to another package binding."
    put_package(client, guest, "other")
    r = put_package(client, guest, "base", {"binding": {"name": "other"}}, overwrite=True)
    assert r.status_code == 400 and "cannot be converted into a binding" in r.json["error"]
    r = put_package(client, guest, "b3", {"binding": "base"})
    assert r.status_code == 400 and "'binding'" in r.json["error"]


def test_published_packages_of_another_namespace(platform, guest):
    client, services, _ = platform
    alice = basic(services.subjects.create("alice").api_key)
    client.put(
        "/api/v1/namespaces/_/packages/shared?",
        json={"publish": True, "parameters": [{"key": "owner", "value": "alice"}]},
        headers=alice,
    )
    client.put("/api/v1/namespaces/_/actions/shared/echo", json=CODE, headers=alice)
    client.put("/api/v1/namespaces/_/packages/private", json={}, headers=alice)
    public = client.get("/api/v1/namespaces/alice/packages?public=true", headers=guest).json
    assert [p["name"] for p in public] == ["shared"]
    assert client.get("/api/v1/namespaces/alice/packages", headers=guest).status_code == 403
    assert client.get("/api/v1/namespaces/alice/packages/shared", headers=guest).status_code == 200
    assert client.get("/api/v1/namespaces/alice/packages/private", headers=guest).status_code == 403
    r = put_package(client, guest, "hers", {"binding": {"namespace": "alice", "name": "private"}})
    assert r.status_code == 403
    assert (
        put_package(
            client, guest, "hers", {"binding": {"namespace": "alice", "name": "shared"}}
        ).status_code
        == 200
    )
    r = client.post(f"{API}/actions/hers/echo?blocking=true&result=true", json={}, headers=guest)
    assert r.status_code == 200 and r.json == {"owner": "alice"}
