"""Packages, triggers, rules and alarms end to end: the real ``tango`` CLI against a running
standalone platform with real containers (issue 5). Responses of ``package|trigger|rule get``
are checked against OpenWhisk's API spec."""

from __future__ import annotations

import json
import time

import pytest

from tests.swagger import validate

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ECHO = "def main(args):\n    return args\n"


def action_file(tmp_path, name="echo.py", code=ECHO) -> str:
    path = tmp_path / name
    path.write_text(code)
    return str(path)


def ok_json(cp) -> dict:
    """The JSON after an ``ok: ...`` line."""
    return json.loads(cp.stdout.split("\n", 1)[1])


def wait_activation(platform, activation_id: str, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        cp = platform.tango("--json", "activation", "get", activation_id, check=False)
        if cp.returncode == 0 and json.loads(cp.stdout)["response"]["status"] != "running":
            return json.loads(cp.stdout)
        time.sleep(0.3)
    raise AssertionError(f"no record for activation {activation_id} within {timeout}s")


def test_package_parameters_binding_and_force_delete(platform, tmp_path):
    platform.tango("package", "create", "e2epkg", "-p", "greeting", "hi", "-p", "who", "package")
    platform.tango("action", "create", "e2epkg/echo", action_file(tmp_path), "-p", "who", "action")
    result = json.loads(
        platform.tango("action", "invoke", "e2epkg/echo", "-r", "-p", "x", "1").stdout
    )
    assert result == {"greeting": "hi", "who": "action", "x": 1}
    pkg = ok_json(platform.tango("package", "get", "e2epkg"))
    assert [a["name"] for a in pkg["actions"]] == ["echo"]
    validate(pkg, "Package")

    out = platform.tango("package", "bind", "e2epkg", "e2ebound", "-p", "greeting", "hello").stdout
    assert out == "ok: created binding e2ebound\n"
    bound = platform.tango_json("package", "get", "e2ebound")
    assert bound["binding"] == {"namespace": "guest", "name": "e2epkg"}
    validate(bound, "Package")
    result = json.loads(platform.tango("action", "invoke", "e2ebound/echo", "-r").stdout)
    assert result == {"greeting": "hello", "who": "action"}
    record = ok_json(platform.tango("action", "invoke", "e2ebound/echo", "-b"))
    assert {"key": "path", "value": "guest/e2epkg/echo"} in record["annotations"]

    cp = platform.tango("package", "delete", "e2epkg", check=False)
    assert cp.returncode == 409 - 256 and "Package not empty" in cp.stderr
    assert (
        platform.tango("package", "delete", "e2ebound").stdout == "ok: deleted package e2ebound\n"
    )
    assert (
        platform.tango("package", "delete", "e2epkg", "--force").stdout
        == "ok: deleted package e2epkg\n"
    )
    assert platform.tango("action", "get", "e2epkg/echo", check=False).returncode == 404 - 256


def test_trigger_rule_fire_and_caused_activation(platform, tmp_path):
    platform.tango("action", "create", "e2eruled", action_file(tmp_path))
    assert (
        platform.tango("trigger", "create", "e2etrig", "-p", "source", "trigger").stdout
        == "ok: created trigger e2etrig\n"
    )
    assert (
        platform.tango("rule", "create", "e2erule", "e2etrig", "e2eruled").stdout
        == "ok: created rule e2erule\n"
    )
    validate(platform.tango_json("trigger", "get", "e2etrig"), "Trigger")
    rule = platform.tango_json("rule", "get", "e2erule")
    assert rule["status"] == "active"
    validate(rule, "Rule")

    out = platform.tango("trigger", "fire", "e2etrig", "-p", "n", "7").stdout
    assert out.startswith("ok: triggered /_/e2etrig with id ")
    trigger_id = out.strip().rsplit(" ", 1)[-1]
    fired = wait_activation(platform, trigger_id)
    assert fired["name"] == "e2etrig" and fired["response"]["result"] == {
        "source": "trigger",
        "n": 7,
    }
    validate(fired, "Activation")
    entry = json.loads(fired["logs"][0])
    assert (entry["rule"], entry["action"], entry["success"]) == (
        "guest/e2erule",
        "guest/e2eruled",
        True,
    )
    child = wait_activation(platform, entry["activationId"])
    assert child["cause"] == trigger_id and child["name"] == "e2eruled"
    assert child["response"]["result"] == {"source": "trigger", "n": 7}

    assert platform.tango("rule", "disable", "e2erule").stdout == "ok: disabled rule e2erule\n"
    assert platform.tango("rule", "status", "e2erule").stdout == "ok: rule e2erule is inactive\n"
    out = platform.tango("trigger", "fire", "e2etrig").stdout
    assert "no active rule" in out
    assert platform.tango("rule", "enable", "e2erule").stdout == "ok: enabled rule e2erule\n"
    assert platform.tango("rule", "delete", "e2erule").stdout == "ok: deleted rule e2erule\n"
    assert platform.tango("trigger", "delete", "e2etrig").stdout == "ok: deleted trigger e2etrig\n"


def test_interval_alarm_fires_repeatedly_until_the_trigger_is_deleted(platform, tmp_path):
    platform.tango("action", "create", "e2etick", action_file(tmp_path))
    platform.tango(
        "trigger",
        "create",
        "e2ealarm",
        "--feed",
        "/whisk.system/alarms/interval",
        "-p",
        "seconds",
        "2",
        "-p",
        "trigger_payload",
        '{"tick": true}',
    )
    platform.tango("rule", "create", "e2ealarmrule", "e2ealarm", "e2etick")
    trigger = platform.tango_json("trigger", "get", "e2ealarm")
    assert {"key": "feed", "value": "/whisk.system/alarms/interval"} in trigger["annotations"]
    deadline = time.time() + 90
    fires: list = []
    while time.time() < deadline and len(fires) < 2:
        fires = platform.tango_json("activation", "list", "e2ealarm")
        time.sleep(1)
    assert len(fires) >= 2, f"the alarm fired {len(fires)} times in 90 s"
    entry = json.loads(wait_activation(platform, fires[0]["activationId"])["logs"][0])
    child = wait_activation(platform, entry["activationId"])
    assert child["cause"] == fires[0]["activationId"] and child["response"]["result"] == {
        "tick": True
    }
    platform.tango("trigger", "delete", "e2ealarm")
    platform.tango("rule", "delete", "e2ealarmrule")
