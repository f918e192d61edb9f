"""``tango package|trigger|rule ...``: the exact requests sent (OpenWhisk API) and what is printed."""

from __future__ import annotations

from tests.cli.conftest import API, Reply

PACKAGE = {
    "namespace": "guest",
    "name": "utils",
    "version": "0.0.1",
    "publish": False,
    "annotations": [],
    "parameters": [{"key": "greeting", "value": "hi"}],
    "binding": {},
    "actions": [{"name": "echo", "version": "0.0.1", "annotations": []}],
    "feeds": [],
}
TRIGGER = {
    "namespace": "guest",
    "name": "t",
    "version": "0.0.1",
    "publish": False,
    "annotations": [],
    "parameters": [],
    "limits": {},
    "rules": {"guest/r": {"action": {"path": "guest", "name": "a"}, "status": "active"}},
}
RULE = {
    "namespace": "guest",
    "name": "r",
    "version": "0.0.1",
    "publish": False,
    "annotations": [],
    "status": "active",
    "trigger": {"path": "guest", "name": "t"},
    "action": {"path": "guest", "name": "a"},
}


# ---- package --------------------------------------------------------------------------------


def test_package_create_update_with_params_and_shared(wsk, api):
    api.on("PUT", f"{API}/packages/utils", PACKAGE)
    run = wsk(
        "package",
        "create",
        "utils",
        "-p",
        "greeting",
        "hi",
        "-a",
        "description",
        "tools",
        "--shared",
        "yes",
    )
    assert (run.code, run.out) == (0, "ok: created package utils\n")
    assert api.last.query == {}
    assert api.last.body == {
        "parameters": [{"key": "greeting", "value": "hi"}],
        "annotations": [{"key": "description", "value": "tools"}],
        "publish": True,
    }
    run = wsk("package", "update", "utils", "--shared", "no")
    assert run.out == "ok: updated package utils\n"
    assert (api.last.query, api.last.body) == ({"overwrite": "true"}, {"publish": False})
    assert wsk("package", "create", "utils", "--shared", "maybe").code == 1


def test_package_bind_sends_the_binding(wsk, api):
    api.on("PUT", f"{API}/packages/mine", PACKAGE)
    run = wsk("package", "bind", "/whisk.system/utils", "mine", "-p", "x", "1")
    assert run.out == "ok: created binding mine\n"
    assert api.last.body == {
        "parameters": [{"key": "x", "value": 1}],
        "binding": {"namespace": "whisk.system", "name": "utils"},
    }
    wsk("package", "bind", "utils", "mine2")
    assert api.requests[-1].path == f"{API}/packages/mine2"
    assert api.requests[-1].body == {"binding": {"namespace": "_", "name": "utils"}}


def test_package_get_list_delete(wsk, api):
    api.on("GET", f"{API}/packages/utils", PACKAGE)
    run = wsk("package", "get", "utils")
    assert run.out.startswith("ok: got package utils\n{")
    run = wsk("package", "get", "utils", "-s")
    assert run.out.splitlines() == [
        "package /guest/utils",
        "   (parameters: greeting)",
        " action /guest/utils/echo",
    ]
    api.on("GET", f"{API}/packages", [PACKAGE])
    run = wsk("package", "list")
    assert run.out.splitlines()[0] == "packages" and run.out.splitlines()[1].startswith(
        "/guest/utils"
    )
    api.on("GET", "/api/v1/namespaces/whisk.system/packages", [])
    wsk("package", "list", "/whisk.system")
    assert api.last.query["public"] == "true"
    api.on("DELETE", f"{API}/packages/utils", PACKAGE)
    assert wsk("package", "delete", "utils").out == "ok: deleted package utils\n"
    assert api.last.query == {}
    wsk("package", "delete", "utils", "--force")
    assert api.last.query == {"force": "true"}


def test_package_errors_are_wsk_style(wsk, api):
    api.on(
        "DELETE",
        f"{API}/packages/full",
        Reply(
            409,
            {
                "error": "Package not empty (contains 1 entity). "
                "Set force param or delete package contents.",
                "code": "c1",
            },
        ),
    )
    run = wsk("package", "delete", "full")
    assert run.code == 409 - 256
    assert run.err == (
        "error: Unable to delete package 'full': Package not empty (contains 1 entity). "
        "Set force param or delete package contents. (code c1)\n"
    )
    run = wsk("package", "create", "a/b")
    assert run.code == 1 and "cannot be nested" in run.err


# ---- trigger --------------------------------------------------------------------------------


def test_trigger_create_with_feed_and_params(wsk, api):
    api.on("PUT", f"{API}/triggers/tick", TRIGGER)
    run = wsk(
        "trigger", "create", "tick", "--feed", "/whisk.system/alarms/interval", "-p", "minutes", "1"
    )
    assert run.out == "ok: created trigger tick\n"
    assert api.last.body == {
        "parameters": [{"key": "minutes", "value": 1}],
        "annotations": [{"key": "feed", "value": "/whisk.system/alarms/interval"}],
    }
    wsk("trigger", "update", "tick", "-p", "x", "y")
    assert (api.last.query, api.last.body) == (
        {"overwrite": "true"},
        {"parameters": [{"key": "x", "value": "y"}]},
    )


def test_trigger_fire_202_and_204(wsk, api):
    api.on("POST", f"{API}/triggers/t", Reply(202, {"activationId": "b" * 32}))
    run = wsk("trigger", "fire", "t", "-p", "n", "2")
    assert (run.code, run.out) == (0, f"ok: triggered /_/t with id {'b' * 32}\n")
    assert api.last.body == {"n": 2}
    api.on("POST", f"{API}/triggers/t", Reply(204, None))
    run = wsk("trigger", "fire", "t")
    assert run.code == 0 and run.out.startswith("ok: triggered /_/t, but it has no active rule")
    run = wsk("trigger", "fire", "missing")
    assert run.code == 404 - 256 and run.err.startswith("error: Unable to fire trigger 'missing'")


def test_trigger_get_list_delete(wsk, api):
    api.on("GET", f"{API}/triggers/t", TRIGGER)
    assert wsk("trigger", "get", "t").out.startswith("ok: got trigger t\n{")
    assert (
        wsk("trigger", "get", "t", "-s").out.splitlines()[-1]
        == " rule /guest/r -> /guest/a (active)"
    )
    assert wsk("--json", "trigger", "get", "t").json == TRIGGER
    api.on("GET", f"{API}/triggers", [TRIGGER])
    assert wsk("trigger", "list").out.splitlines()[0] == "triggers"
    api.on("DELETE", f"{API}/triggers/t", TRIGGER)
    assert wsk("trigger", "delete", "t").out == "ok: deleted trigger t\n"


# ---- rule -----------------------------------------------------------------------------------


def test_rule_create_update_send_fully_qualified_names(wsk, api):
    api.on("PUT", f"{API}/rules/r", RULE)
    assert wsk("rule", "create", "r", "t", "pkg/a").out == "ok: created rule r\n"
    assert api.last.body == {"trigger": "/_/t", "action": "/_/pkg/a"} and api.last.query == {}
    assert wsk("rule", "update", "r", "/guest/t", "a").out == "ok: updated rule r\n"
    assert api.last.body == {"trigger": "/guest/t", "action": "/_/a"} and api.last.query == {
        "overwrite": "true"
    }


def test_rule_enable_disable_status(wsk, api):
    api.on("POST", f"{API}/rules/r", Reply(200, None))
    assert wsk("rule", "disable", "r").out == "ok: disabled rule r\n"
    assert api.last.body == {"status": "inactive"}
    assert wsk("rule", "enable", "r").out == "ok: enabled rule r\n"
    assert api.last.body == {"status": "active"}
    api.on("GET", f"{API}/rules/r", RULE)
    assert wsk("rule", "status", "r").out == "ok: rule r is active\n"


def test_rule_get_list_delete(wsk, api):
    api.on("GET", f"{API}/rules/r", RULE)
    assert wsk("rule", "get", "r").out.startswith("ok: got rule r\n{")
    assert wsk("rule", "get", "r", "-s").out.splitlines() == [
        "rule /guest/r (active)",
        "   (trigger: /guest/t, action: /guest/a)",
    ]
    api.on("GET", f"{API}/rules", [RULE])
    lines = wsk("rule", "list").out.splitlines()
    assert (
        lines[0] == "rules"
        and lines[1].startswith("/guest/r")
        and lines[1].endswith("private active")
    )
    api.on("POST", f"{API}/rules/r", Reply(200, None))
    api.on("DELETE", f"{API}/rules/r", RULE)
    assert wsk("rule", "delete", "r", "--disable").out == "ok: deleted rule r\n"
    assert [(q.method, q.body) for q in api.requests[-2:]] == [
        ("POST", {"status": "inactive"}),
        ("DELETE", None),
    ]
