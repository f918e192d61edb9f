"""The invoker service end to end against real containers (no controller).

One in-process invoker (waitress on a free loopback port) runs real
`tango/action-python-v3.11` containers; each test drives it over HTTP exactly as the
controller would (`POST /invoke`, docs/contracts.md).
"""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
import requests

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]

INVOKER_ID = "pytest" + uuid.uuid4().hex[:6]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr): ")


@pytest.fixture(scope="module")
def invoker(runtime_image, docker_client):
    from invoker.config import InvokerConfig
    from invoker.server import build_server

    config = InvokerConfig(
        id=INVOKER_ID,
        port=0,
        user_memory=1536,
        cpus=2.0,
        container_ports=(13200, 13299),
        pause_grace=None,
    )
    server, inv = build_server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    inv.url = f"http://127.0.0.1:{config.port}"
    yield inv
    inv.stop()
    server.close()
    assert (
        docker_client.containers.list(all=True, filters={"label": f"tango.invoker={INVOKER_ID}"})
        == []
    )


def message(code, *, name=None, params=None, size=None, memory=128, timeout=10000, logs=10):
    name = name or "t" + uuid.uuid4().hex[:8]  # a fresh action per test: no shared containers
    return {
        "activationId": uuid.uuid4().hex,
        "transid": "tx",
        "namespace": "guest",
        "subject": "guest",
        "apiKey": None,
        "action": {
            "namespace": "guest",
            "name": name,
            "path": f"guest/{name}",
            "version": "0.0.1",
            "exec": {"kind": "python:3.11", "code": code, "binary": False, "main": "main"},
            "limits": {"timeout": timeout, "memory": memory, "logs": logs, "concurrency": 1},
            "annotations": [{"key": "exec", "value": "python:3.11"}],
        },
        "params": params or {},
        "initParams": {},
        "size": size,
        "received": int(time.time() * 1000),
        "cause": None,
    }


def invoke(inv, msg):
    reply = requests.post(inv.url + "/invoke", json=msg, timeout=60)
    assert reply.status_code == 200, reply.text
    record = reply.json()
    record["notes"] = {a["key"]: a["value"] for a in record["annotations"]}
    return record


def container_of(inv, path):
    """The backend handle of the one live container serving `path`."""
    [cid] = [c.cid for c in inv.pool.containers.values() if c.key and c.key.path == path]
    return inv.proxies[cid].handle


ECHO = "def main(args):\n    return {'echo': args}\n"


def test_ping_and_status(invoker):
    assert requests.get(invoker.url + "/ping").text == "pong"
    status = requests.get(invoker.url + "/status").json()
    assert status["id"] == INVOKER_ID and status["userMemory"] == 1536 and status["buffer"] == 0


def test_cold_then_warm_init_time_only_on_cold(invoker):
    msg = message(ECHO, params={"x": 1})
    first = invoke(invoker, msg)
    assert first["response"] == {
        "status": "success",
        "statusCode": 0,
        "success": True,
        "result": {"echo": {"x": 1}},
    }
    assert first["notes"]["startKind"] == "cold" and "initTime" in first["notes"]
    second = invoke(invoker, {**msg, "activationId": uuid.uuid4().hex})
    assert second["notes"]["startKind"] == "warm" and "initTime" not in second["notes"]
    for key in (
        "path",
        "kind",
        "limits",
        "waitTime",
        "timeout",
        "size",
        "resizeTime",
        "usage",
        "invoker",
    ):
        assert key in second["notes"]
    assert second["duration"] == second["end"] - second["start"]
    assert second["notes"]["path"] == msg["action"]["path"]


def test_prewarmed_stem_cell_is_used_for_matching_memory(invoker):
    deadline = time.time() + 30
    while not any(c.state == "prewarm" for c in invoker.pool.containers.values()):
        assert time.time() < deadline, "no stem cell started"
        time.sleep(0.2)
    record = invoke(invoker, message(ECHO, memory=256))
    assert record["notes"]["startKind"] == "prewarmed" and "initTime" in record["notes"]


def test_resize_is_applied_in_cgroup_and_recorded(invoker):
    msg = message(ECHO)
    invoke(invoker, msg)
    size = {"cpu": 0.5, "memory": 384, "option": "medium"}
    record = invoke(invoker, {**msg, "activationId": uuid.uuid4().hex, "size": size})
    assert record["notes"]["size"] == size and record["notes"]["resizeTime"] > 0
    handle = container_of(invoker, msg["action"]["path"])
    root = invoker.backend.cgroup_root
    with open(f"{root}/cpu/docker/{handle.id}/cpu.cfs_quota_us") as f:
        assert int(f.read()) == 50000
    with open(f"{root}/memory/docker/{handle.id}/memory.limit_in_bytes") as f:
        assert int(f.read()) == 384 * 1024 * 1024
    again = invoke(invoker, {**msg, "activationId": uuid.uuid4().hex, "size": size})
    assert again["notes"]["resizeTime"] == 0.0  # unchanged size: no write


def test_usage_is_measured_from_the_cgroup(invoker):
    code = (
        "import time\n"
        "def main(args):\n"
        "    block = bytearray(40 * 1024 * 1024)\n"
        "    end = time.process_time() + 0.1\n"
        "    while time.process_time() < end: pass\n"
        "    return {'n': len(block)}\n"
    )
    record = invoke(invoker, message(code))
    usage = record["notes"]["usage"]
    assert usage["cpuTime"] >= 50 and usage["maxMemory"] >= 40 * 1024 * 1024


def test_logs_are_collected_without_sentinels(invoker):
    code = (
        "import sys\n"
        "def main(args):\n"
        "    print('to stdout')\n"
        "    print('to stderr', file=sys.stderr)\n"
        "    return {}\n"
    )
    msg = message(code)
    for _ in range(2):  # warm runs read from the remembered offset: no lines repeated
        record = invoke(invoker, {**msg, "activationId": uuid.uuid4().hex})
        assert sorted(line.split(" ", 1)[1] for line in record["logs"]) == [
            "stderr: to stderr",
            "stdout: to stdout",
        ]
        assert all(LOG_LINE.match(line) for line in record["logs"])


def test_logs_limit_truncates_with_openwhisk_message(invoker):
    code = "def main(args):\n    for i in range(3000):\n        print('x' * 500)\n    return {}\n"
    msg = message(code, logs=1)
    record = invoke(invoker, msg)
    assert record["logs"][-1] == (
        "Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes."
    )
    assert sum(len(line) for line in record["logs"][:-1]) <= 1048576


def test_application_error_keeps_the_container(invoker):
    msg = message("def main(args):\n    return {'error': 'bad input', 'other': 1}\n")
    record = invoke(invoker, msg)
    assert record["statusCode"] == 1
    assert record["response"]["status"] == "application error"
    assert record["response"]["result"] == {"error": "bad input"}
    again = invoke(invoker, {**msg, "activationId": uuid.uuid4().hex})
    assert again["notes"]["startKind"] == "warm"


def test_out_of_memory_is_a_developer_error(invoker):
    code = "def main(args):\n    hog = bytearray(400 * 1024 * 1024)\n    return {'n': len(hog)}\n"
    record = invoke(invoker, message(code, memory=128))
    assert record["statusCode"] == 2
    assert record["response"]["result"] == {
        "error": "The action exhausted its memory and was aborted."
    }


def test_timeout_is_a_developer_error_and_the_container_is_replaced(invoker):
    code = "import time\ndef main(args):\n    time.sleep(args.get('sleep', 0))\n    return {}\n"
    msg = message(code, timeout=1000)
    invoke(invoker, msg)
    handle = container_of(invoker, msg["action"]["path"])
    record = invoke(invoker, {**msg, "activationId": uuid.uuid4().hex, "params": {"sleep": 5}})
    assert record["statusCode"] == 2 and record["notes"]["timeout"] is True
    assert record["response"]["result"] == {
        "error": "The action exceeded its time limits of 1000 milliseconds."
    }
    after = invoke(invoker, {**msg, "activationId": uuid.uuid4().hex})
    assert after["statusCode"] == 0 and after["notes"]["startKind"] == "cold"
    assert container_of(invoker, msg["action"]["path"]).id != handle.id


def test_unknown_kind_is_an_actionable_developer_error(invoker):
    msg = message(ECHO)
    msg["action"]["exec"]["kind"] = "cobol:85"
    record = invoke(invoker, msg)
    assert record["statusCode"] == 2 and "cobol:85" in record["response"]["result"]["error"]
    assert "python:3.11" in record["response"]["result"]["error"]


def test_leftover_containers_are_removed_at_start(docker_client):
    from invoker.config import InvokerConfig
    from invoker.service import Invoker

    invoker_id = "left" + uuid.uuid4().hex[:6]
    stale = docker_client.containers.run(
        "tango/python-base:bookworm",
        ["sleep", "60"],
        detach=True,
        labels={"tango.invoker": invoker_id},
    )
    inv = Invoker(InvokerConfig(id=invoker_id, prewarm=(), container_ports=(13300, 13309)))
    try:
        inv.start()
        assert docker_client.containers.list(all=True, filters={"id": stale.id}) == []
    finally:
        inv.stop()


def test_registration_and_heartbeats_reach_the_controller(docker_client):
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from invoker.config import InvokerConfig
    from invoker.service import Invoker

    received = []

    class Controller(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, self.headers.get("X-Tango-Internal"), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    controller = HTTPServer(("127.0.0.1", 0), Controller)
    threading.Thread(target=controller.serve_forever, daemon=True).start()
    invoker_id = "hb" + uuid.uuid4().hex[:6]
    inv = Invoker(
        InvokerConfig(
            id=invoker_id,
            prewarm=(),
            container_ports=(13330, 13339),
            controller_urls=(f"http://127.0.0.1:{controller.server_port}",),
            token="s3cret",
            user_memory=1024,
            cpus=1.5,
        )
    )
    try:
        inv.start()
        deadline = time.time() + 10
        while not any(path.endswith("/heartbeat") for path, _, _ in received):
            assert time.time() < deadline, f"no heartbeat, got {received}"
            time.sleep(0.1)
    finally:
        inv.stop()
        controller.shutdown()
    path, token, body = received[0]
    assert (path, token) == ("/internal/invokers", "s3cret")
    assert body["id"] == invoker_id and body["userMemory"] == 1024 and body["cpus"] == 1.5
    path, token, body = next(r for r in received if r[0].endswith("/heartbeat"))
    assert path == f"/internal/invokers/{invoker_id}/heartbeat" and token == "s3cret"
    assert body["pool"]["freeMemory"] == 1024 and body["stats"] == []
