"""``tango project deploy|undeploy`` with manifests from wskdeploy's documentation
(``tests/e2e/wskdeploy/``, see its README), through the real CLI against a running platform:
every deployed piece is invoked, and undeploy removes exactly what was deployed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.docker, pytest.mark.slow]

EXAMPLES = Path(__file__).parent / "wskdeploy"


@pytest.fixture(scope="module")
def ns(platform):
    return platform.in_new_namespace("wskproj")


def names(ns, collection: str, *scope: str) -> set[str]:
    return {e["name"] for e in ns.tango_json(collection, "list", *scope)}


def wait_for_activation_of(ns, action: str, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for record in ns.tango_json("activation", "list", action, "--full"):
            if record["response"]["status"] != "running":
                return record
        time.sleep(0.3)
    raise AssertionError(f"no finished activation of {action} within {timeout}s")


def test_web_action_and_api_from_the_apigateway_example(ns):
    manifest = str(EXAMPLES / "manifest_hello_world_apigateway.yaml")
    out = ns.tango("project", "deploy", "-m", manifest).stdout
    assert "ok: deployed project hello_world_package" in out
    url = next(line.split()[-1] for line in out.splitlines() if "deployed API GET" in line)
    assert url.endswith("/hello/world")
    r = requests.get(url, params={"name": "Frodo", "place": "the Shire"}, timeout=60)
    assert r.status_code == 200 and r.json() == {"greeting": "Hello, Frodo from the Shire"}
    web = ns.tango("action", "get", "hello_world_package/hello_world", "--url").stdout
    assert requests.get(web.splitlines()[1] + ".json", timeout=60).json()["greeting"] == (
        "Hello, stranger from unknown"
    )
    ns.tango("project", "undeploy", "-m", manifest)
    assert requests.get(url, timeout=60).status_code == 404
    assert "hello_world_package" not in names(ns, "package")


def test_sequence_example(ns):
    manifest = str(EXAMPLES / "manifest_sequence_basic.yaml")
    ns.tango("project", "deploy", "-m", manifest)
    assert names(ns, "action", "fellowship_package") == {
        "member_join",
        "member_process",
        "fellowship_membership",
    }
    result = json.loads(
        ns.tango(
            "action",
            "invoke",
            "fellowship_package/fellowship_membership",
            "-r",
            "-p",
            "name",
            "Frodo",
            "-p",
            "place",
            "the Shire",
            "-p",
            "job",
            "gardener",
        ).stdout
    )
    assert result["region"] == "Eriador" and result["member"]["organization"] == "fellowship"
    joined = json.loads(ns.tango("action", "invoke", "fellowship_package/member_join", "-r").stdout)
    assert joined["member"]["name"] == "unknown"  # the manifest's typed input default
    ns.tango("project", "undeploy", "-m", manifest)
    assert "fellowship_package" not in names(ns, "package")


def test_trigger_rule_with_a_deployment_file_and_exact_undeploy(ns, tmp_path):
    manifest = str(EXAMPLES / "manifest_hello_world_triggerrule.yaml")
    deployment = str(EXAMPLES / "deployment_hello_world_triggerrule_bindings.yaml")
    ns.tango("project", "deploy", "-m", manifest, "--deployment", deployment)
    # things made by hand beside the project, one of them in the project's package
    (tmp_path / "mine.py").write_text("def main(a):\n    return {'mine': True}\n")
    ns.tango("action", "create", "mine", str(tmp_path / "mine.py"))
    ns.tango("action", "create", "hello_world_package/mine", str(tmp_path / "mine.py"))
    ns.tango("trigger", "fire", "meetPerson")
    record = wait_for_activation_of(ns, "hello_world_package/hello_world_triggerrule")
    assert record["response"]["result"]["greeting"] == "Hello, Elrond from Rivendell"
    assert "3 children and are 1.88 m" in record["response"]["result"]["details"]
    undeployed = ns.tango("project", "undeploy", "-m", manifest, "--deployment", deployment)
    assert "kept package hello_world_package" in undeployed.stderr
    assert names(ns, "action", "hello_world_package") == {"mine"}
    assert "mine" in names(ns, "action")
    assert "meetPerson" not in names(ns, "trigger")
    assert "meetPersonRule" not in names(ns, "rule")
    # a hand-made entity with a project's name is neither taken over nor removed
    ns.tango("trigger", "create", "meetPerson", "-p", "name", "by hand")
    refused = ns.tango("project", "deploy", "-m", manifest, check=False)
    assert refused.returncode != 0 and "was not deployed by a project" in refused.stderr
    ns.tango("project", "undeploy", "-m", manifest)
    kept = ns.tango_json("trigger", "get", "meetPerson")["parameters"]
    assert kept == [{"key": "name", "value": "by hand"}]


def test_alarm_trigger_example_and_env_substitution(ns, monkeypatch):
    manifest = str(EXAMPLES / "alarmtrigger" / "manifest.yaml")
    deployment = str(EXAMPLES / "alarmtrigger" / "deployment.yaml")
    out = ns.tango("project", "deploy", "-m", manifest, "--deployment", deployment).stdout
    assert "ok: deployed project HelloWorldEvery12Hours" in out
    trigger = ns.tango_json("trigger", "get", "Every12Hours")
    annotations = {a["key"]: a["value"] for a in trigger["annotations"]}
    assert annotations["feed"] == "/whisk.system/alarms/alarm"
    read = ns.tango_json(
        "action",
        "invoke",
        "/whisk.system/alarms/alarm",
        "-r",
        "-p",
        "lifecycleEvent",
        "READ",
        "-p",
        "triggerName",
        "/_/Every12Hours",
        "-p",
        "authKey",
        ns.auth,
    )
    assert read["config"]["cron"] == "0 */12 * * *"  # the alarm is registered with its cron
    ns.tango("trigger", "fire", "Every12Hours")
    record = wait_for_activation_of(ns, "helloworld/helloworld")
    assert record["response"]["result"] == {"greeting": "Hello, Amy from Paris"}
    ns.tango("project", "undeploy", "-m", manifest, "--deployment", deployment)
    assert "Every12Hours" not in names(ns, "trigger")

    manifest = str(EXAMPLES / "manifest_hello_world_env_var_parms.yaml")
    env_ns = ns
    missing = env_ns.tango("project", "deploy", "-m", manifest, check=False)
    assert missing.returncode != 0 and "FIRSTNAME" in missing.stderr
    monkeypatch.setenv("FIRSTNAME", "Bilbo")
    monkeypatch.setenv("TOWN", "Hobbiton")
    monkeypatch.setenv("COUNTRY", "the Shire")
    env_ns.tango("project", "deploy", "-m", manifest)
    greeting = json.loads(
        env_ns.tango(
            "action", "invoke", "hello_world_package/hello_world_env_var_parms", "-r"
        ).stdout
    )
    assert greeting == {"greeting": "Hello, Bilbo from Hobbiton, the Shire"}
    env_ns.tango("project", "undeploy", "-m", manifest)
