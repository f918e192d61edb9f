"""Smaller wsk habits of issue 18 through the real CLI against a running platform:
``property get --apibuildno`` and ``-o raw``, package binding parameters, ``trigger create
-F/-T`` (wsk's --feed-param/--trigger-param), and ``/whisk.system/utils`` for samples."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def ns(platform):
    return platform.in_new_namespace("wsksmall")


def test_property_get_apibuildno_and_raw_output(ns):
    info = ns.api("GET", "/api/v1").json()
    out = ns.tango("property", "get", "--apibuildno").stdout
    assert out == f"whisk API build number\t\t{info['buildno']}\n"
    assert ns.tango("property", "get", "--apibuildno", "-o", "raw").stdout == f"{info['buildno']}\n"


def test_binding_parameters_overwrite_the_packages(ns, tmp_path):
    (tmp_path / "echo.py").write_text("def main(args):\n    return args\n")
    ns.tango("package", "create", "greetings", "-p", "who", "package", "-p", "x", "1")
    ns.tango("action", "create", "greetings/echo", str(tmp_path / "echo.py"))
    ns.tango("package", "bind", "greetings", "mine", "-p", "who", "binding")
    got = json.loads(ns.tango("action", "invoke", "mine/echo", "-r").stdout)
    assert got == {"who": "binding", "x": 1}
    got = json.loads(ns.tango("action", "invoke", "mine/echo", "-r", "-p", "who", "call").stdout)
    assert got["who"] == "call"
    assert (
        json.loads(ns.tango("action", "invoke", "greetings/echo", "-r").stdout)["who"] == "package"
    )


def test_trigger_create_feed_and_trigger_parameters(ns):
    ns.tango(
        "trigger",
        "create",
        "ticks",
        "--feed",
        "/whisk.system/alarms/interval",
        "-F",
        "minutes",
        "30",
        "-T",
        "who",
        "me",
    )
    trigger = ns.tango_json("trigger", "get", "ticks")
    assert {p["key"]: p["value"] for p in trigger["parameters"]} == {"who": "me"}
    read = ns.tango_json(
        "action",
        "invoke",
        "/whisk.system/alarms/interval",
        "-r",
        "-p",
        "lifecycleEvent",
        "READ",
        "-p",
        "triggerName",
        "/_/ticks",
        "-p",
        "authKey",
        ns.auth,
    )
    assert read["config"]["minutes"] == 30
    ns.tango("trigger", "delete", "ticks")


def test_whisk_system_utils_for_samples(ns):
    ns.tango("package", "bind", "/whisk.system/utils", "myutils")
    assert json.loads(
        ns.tango("action", "invoke", "myutils/echo", "-r", "-p", "a", "1").stdout
    ) == {"a": 1}
    ns.tango(
        "action",
        "create",
        "firstline",
        "--sequence",
        "/whisk.system/utils/split,/whisk.system/utils/sort,/whisk.system/utils/head",
    )
    got = json.loads(
        ns.tango("action", "invoke", "firstline", "-r", "-p", "payload", "pear\napple\nfig").stdout
    )
    assert got["lines"] == ["apple"]
    cat = json.loads(
        ns.tango(
            "action", "invoke", "/whisk.system/utils/cat", "-r", "-p", "lines", '["a","b"]'
        ).stdout
    )
    assert cat == {"lines": ["a", "b"], "payload": "a\nb"}
