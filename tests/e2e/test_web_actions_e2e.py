"""Web actions and metrics end to end: actions created with the real CLI (``--web``,
``--web-secure``) on a running platform with real containers, called over plain HTTP without a
key, and the Prometheus endpoints of controller and invoker moving after the calls."""

from __future__ import annotations

import pytest
import requests

from controller.config import SYSTEM_KEY
from tests.controller.test_metrics import sample

pytestmark = pytest.mark.docker

PAGE = """
import base64

def main(args):
    if args.get("__ow_path") == "/pixel":
        return {"headers": {"Content-Type": "image/png"}, "body": base64.b64encode(b"\\x89PNG-bytes").decode()}
    return {"statusCode": 200, "headers": {"X-Method": args["__ow_method"]},
            "body": "<p>Hello, %s! path=%s</p>" % (args.get("name", "stranger"), args.get("__ow_path"))}
"""

RAW = """
def main(args):
    return {"query": args["__ow_query"], "body": args["__ow_body"], "method": args["__ow_method"]}
"""


def write(tmp_path, name, code):
    f = tmp_path / name
    f.write_text(code)
    return str(f)


def test_web_action_created_with_the_cli(platform, tmp_path):
    platform.tango("action", "update", "webpage", write(tmp_path, "page.py", PAGE), "--web", "true")
    action = platform.tango_json("action", "get", "webpage")
    notes = {a["key"]: a["value"] for a in action["annotations"]}
    assert notes["web-export"] is True and notes["final"] is True and notes["raw-http"] is False
    base = f"{platform.apihost}/api/v1/web/guest/default/webpage"
    r = requests.post(base + ".http/some/where?name=Ada", timeout=120)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.text == "<p>Hello, Ada! path=/some/where</p>" and r.headers["X-Method"] == "post"
    assert len(r.headers["x-openwhisk-activation-id"]) == 32
    r = requests.get(base + "/pixel", timeout=60)
    assert (
        r.status_code == 200
        and r.content == b"\x89PNG-bytes"
        and r.headers["Content-Type"] == "image/png"
    )
    r = requests.get(base + ".json", timeout=60)
    assert r.status_code == 200 and r.json()["statusCode"] == 200
    r = requests.get(base + ".text", timeout=60)
    assert r.status_code == 200 and r.text.startswith("<p>Hello, stranger!")
    platform.tango("action", "update", "webpage", "--web", "false")
    r = requests.get(base + ".http", timeout=60)
    assert r.status_code == 404 and r.json()["error"] == "The requested resource does not exist."


def test_raw_and_secured_web_action(platform, tmp_path):
    platform.tango(
        "action",
        "update",
        "rawweb",
        write(tmp_path, "raw.py", RAW),
        "--web",
        "raw",
        "--web-secure",
        "s3cret",
    )
    url = f"{platform.apihost}/api/v1/web/guest/default/rawweb.json?x=1&y=2"
    assert requests.put(url, data="hello", timeout=60).status_code == 401
    r = requests.put(
        url,
        data="hello",
        headers={"X-Require-Whisk-Auth": "s3cret", "Content-Type": "text/plain"},
        timeout=120,
    )
    assert r.status_code == 200
    assert r.json() == {"query": "x=1&y=2", "body": "hello", "method": "put"}


def test_metrics_of_controller_and_invoker_move(platform, tmp_path):
    platform.tango(
        "action", "update", "counted", write(tmp_path, "c.py", "def main(args):\n    return {}\n")
    )
    operator = SYSTEM_KEY.partition(":")[::2]  # /metrics names every tenant's actions
    assert requests.get(platform.apihost + "/metrics", timeout=30).status_code == 401
    before = requests.get(platform.apihost + "/metrics", auth=operator, timeout=30).text
    for _ in range(3):
        platform.tango("action", "invoke", "counted", "--blocking")
    after = requests.get(platform.apihost + "/metrics", auth=operator, timeout=30).text
    user = {"namespace": "guest", "initiator": "guest", "action": "guest/counted"}
    assert (
        sample(after, "openwhisk_action_status", status="success", **user)
        - sample(before, "openwhisk_action_status", status="success", **user)
        == 3
    )
    kinds = ("cold", "prewarmed", "warm", "recreated")
    started = sum(
        sample(
            after,
            "tango_controller_starts_total",
            namespace="guest",
            action="guest/counted",
            start_kind=k,
        )
        for k in kinds
    )
    assert started >= 3 and sample(after, "tango_controller_invokers", state="up") >= 1
    user_sys, _, key = SYSTEM_KEY.partition(":")
    invokers = requests.get(
        platform.apihost + "/api/v1/admin/invokers", auth=(user_sys, key), timeout=30
    ).json()
    metrics_url = invokers[0]["url"] + "/metrics"
    # It names every namespace's actions: only the platform's own parts may read it.
    assert requests.get(metrics_url, timeout=30).status_code == 401
    internal = {"X-Tango-Internal": platform.process.internal_token}
    text = requests.get(metrics_url, headers=internal, timeout=30).text
    assert (
        sample(text, "tango_invoker_activations_total", action="guest/counted", status="success")
        >= 3
    )
    assert sample(text, "tango_invoker_run_seconds_count", action="guest/counted") >= 3
    assert "tango_invoker_containers{" in text
