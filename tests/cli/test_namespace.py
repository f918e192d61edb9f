"""``tango namespace list|get`` and ``tango list``."""

ACTION = {
    "namespace": "guest",
    "name": "hello",
    "publish": False,
    "annotations": [{"key": "exec", "value": "python:3.11"}],
}


def test_namespace_list(wsk, api):
    api.on("GET", "/api/v1/namespaces", ["guest"])
    run = wsk("namespace", "list")
    assert run.out == "namespaces\nguest\n"
    assert wsk("--json", "namespace", "list").json == ["guest"]


def test_list_resolves_the_default_namespace_and_lists_every_collection(wsk, api):
    api.on("GET", "/api/v1/namespaces", ["guest"])
    api.on("GET", "/api/v1/namespaces/guest/actions", [ACTION])
    api.on("GET", "/api/v1/namespaces/guest/workflows", [{"namespace": "guest", "name": "thumbs"}])
    for collection in ("packages", "triggers", "rules"):
        api.on("GET", f"/api/v1/namespaces/guest/{collection}", [])
    run = wsk("list")
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0] == "Entities in namespace: guest"
    assert [line for line in lines if not line.startswith("/")] == [
        "Entities in namespace: guest",
        "packages",
        "actions",
        "triggers",
        "rules",
        "workflows",
    ]
    assert lines[lines.index("actions") + 1].split() == ["/guest/hello", "private", "python:3.11"]
    assert lines[-1].split() == ["/guest/thumbs", "private"]
    assert {r.query["limit"] for r in api.requests if "limit" in r.query} == {"0"}


def test_collections_the_controller_does_not_serve_list_empty(wsk, api):
    api.on("GET", "/api/v1/namespaces/other/actions", [ACTION])
    run = wsk("namespace", "get", "/other")
    assert run.code == 0
    assert "packages\nactions\n/guest/hello" in run.out


def test_forbidden_namespace_fails(wsk, api):
    api.on(
        "GET",
        "/api/v1/namespaces/secret/packages",
        {"error": "not allowed", "code": "t1"},
        status=403,
    )
    run = wsk("namespace", "get", "secret")
    assert run.code == 403 - 256
    assert (
        run.err
        == "error: Unable to obtain the list of entities for namespace 'secret': not allowed (code t1)\n"
    )
