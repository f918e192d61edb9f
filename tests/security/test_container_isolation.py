"""Issue 14, finding 2: action code cannot drive another container's runtime.

A real standalone platform (controller, invoker, Docker containers) on each network mode. An
attacker namespace's action reads `/proc/net/tcp`, lists every listening TCP port it can see and
POSTs `/init` (with its own code) and `/run` to them over 127.0.0.1; a victim namespace keeps a
warm container and a prewarmed stem cell is waiting. No answer may run anything, and the
victim's activations go on as if nothing happened (its warm container ran only its own
activations; its next cold start, on the stem cell the attacker tried to initialize, works).

On the host network the attacker sees every port of the host, so it only POSTs to the ports of
the platform under test (its controller, invoker and containers): other tests share this host
and their runtimes must not be disturbed. On the bridge it POSTs to every port it sees, which
are those of its own network namespace.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Platform, start_platform

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

SCANNER = r'''
import http.client
import json

PWN = "def main(args):\n    return {'pwned': True}\n"
INIT = json.dumps({"value": {"name": "pwn", "main": "main", "code": PWN}})
RUN = json.dumps({"value": {"pwned": True}})


def listening_ports():
    """Every TCP port in state LISTEN (0A) in this network namespace, IPv4 and IPv6."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def post(port, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        return [reply.status, reply.read(400).decode("utf-8", "replace")]
    except Exception as e:
        return [None, type(e).__name__]
    finally:
        conn.close()


def main(args):
    listening = listening_ports()
    only = args.get("only")
    targets = [p for p in listening if only is None or p in only]
    answers = {str(p): {"init": post(p, "/init", INIT), "run": post(p, "/run", RUN)} for p in targets}
    return {"listening": listening, "answers": answers}
'''

COUNTER = """
RUNS = 0


def main(args):
    global RUNS
    RUNS += 1
    return {"runs": RUNS}
"""

SECRET_REFUSAL = "X-Tango-Container-Secret"


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def invoke(ns: Platform, action: str, params: dict | None = None) -> dict:
    """A blocking invoke through the REST API; the activation record."""
    r = ns.api("POST", f"/api/v1/namespaces/_/actions/{action}?blocking=true", json=params or {})
    assert r.status_code == 200, r.text
    return r.json()


def result_of(ns: Platform, action: str, params: dict | None = None) -> dict:
    record = invoke(ns, action, params)
    assert record["response"]["success"], record
    return record["response"]["result"]


def platform_containers(docker_client, p: Platform) -> list:
    """This platform's action containers (the invoker labels them with its instance name)."""
    label = f"tango.invoker=invoker0-{p.process.port}"
    return docker_client.containers.list(filters={"label": label})


def wait_listening(ports: set[int], timeout: float = 30.0) -> None:
    """Until every port accepts a connection on 127.0.0.1 (its runtime is up), bounded."""
    deadline = time.time() + timeout
    for port in sorted(ports):
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise AssertionError(f"nothing listens on 127.0.0.1:{port}") from None
                time.sleep(0.1)


def loopback_port(container) -> int:
    """The 127.0.0.1 port of a container's runtime: its own on the host network, else the one
    published from the bridge."""
    bindings = container.attrs["HostConfig"].get("PortBindings") or {}
    for binding in bindings.values():
        return int(binding[0]["HostPort"])
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    return int(env["__OW_PROXY_PORT"])


def invoker_port(p: Platform) -> int:
    """The port of the platform's invoker process (from its command line)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"invoker.server" in args and f"http://127.0.0.1:{p.process.port}".encode() in args:
            return int(args[args.index(b"--port") + 1])
    raise AssertionError("the platform's invoker process was not found")


def wait_for_stem_cell(docker_client, p: Platform, timeout: float = 60.0) -> int:
    """The loopback port of a prewarmed stem cell of this platform, once it accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in platform_containers(docker_client, p):
            if "_prewarm_" in c.name:
                try:
                    socket.create_connection(("127.0.0.1", loopback_port(c)), timeout=1).close()
                    return loopback_port(c)
                except OSError:
                    pass
        time.sleep(0.2)
    raise AssertionError(f"no stem cell started within {timeout} s")


@pytest.fixture(scope="module", params=["host", "bridge"])
def isolated_platform(request, tmp_path_factory):
    p = start_platform(
        tmp_path_factory.mktemp(f"isolation-{request.param}"),
        extra=["--container-network", request.param],
    )
    p.mode = request.param
    yield p
    p.process.stop()


def test_an_action_scanning_loopback_drives_no_other_runtime(
    isolated_platform, docker_client, tmp_path
):
    p = isolated_platform
    victim, attacker = p.in_new_namespace("victim"), p.in_new_namespace("attacker")
    victim.tango("action", "update", "counter", write(tmp_path, "counter.py", COUNTER))
    attacker.tango("action", "update", "scan", write(tmp_path, "scan.py", SCANNER))

    assert result_of(victim, "counter") == {"runs": 1}
    result_of(attacker, "scan", {"only": []})  # the attacker's container, warm
    stem_cell = wait_for_stem_cell(docker_client, p)
    assert result_of(victim, "counter") == {"runs": 2}  # the victim's container, warm too

    containers = platform_containers(docker_client, p)
    ports = {loopback_port(c) for c in containers}
    if p.mode == "host":
        wait_listening(ports)  # a container the pool started a moment ago may still be starting
    only = None if p.mode == "bridge" else sorted(ports | {p.process.port, invoker_port(p)})
    report = result_of(attacker, "scan", {"only": only})

    ran = {
        port: answers
        for port, answers in report["answers"].items()
        if 200 in (answers["init"][0], answers["run"][0])
    }
    assert ran == {}, f"a runtime answered the attacker: {ran}"
    runtimes_reached = [
        port
        for port, answers in report["answers"].items()
        if all(a[0] == 403 and SECRET_REFUSAL in a[1] for a in answers.values())
    ]
    if p.mode == "host":
        # Every runtime of the platform is in plain sight, and the stem cell (never paused)
        # refused both calls for want of its secret.
        assert ports <= set(report["listening"])
        assert str(stem_cell) in runtimes_reached
    else:
        # Its own namespace holds only its own runtime, which refuses it too.
        assert not ports & set(report["listening"])
        assert runtimes_reached == ["8080"]
        # Defence in depth, checked from the engine's side (nothing is sent to a container's
        # private address): every container is on Tango's network, where inter-container
        # traffic is disabled.
        for c in containers:
            assert list(c.attrs["NetworkSettings"]["Networks"]) == ["tango-actions"]
        options = docker_client.networks.get("tango-actions").attrs["Options"]
        assert options["com.docker.network.bridge.enable_icc"] == "false"

    # The victim's warm container ran only the victim's activations, and its next cold start
    # (on the stem cell the attacker tried to initialize) works.
    assert result_of(victim, "counter") == {"runs": 3}
    victim.tango("action", "update", "fresh", write(tmp_path, "fresh.py", COUNTER))
    record = invoke(victim, "fresh")
    assert record["response"]["success"], record
    assert record["response"]["result"] == {"runs": 1}
    activations = victim.api("GET", "/api/v1/namespaces/_/activations?limit=50").json()
    assert len(activations) == 4
    assert all(a["statusCode"] == 0 for a in activations), activations
