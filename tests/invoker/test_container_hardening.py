"""Action containers are confined: the runtime answers only the invoker, and the action runs as
a non-root user without capabilities and cannot read the secret that guards its runtime.

Real `tango/action-python-v3.11` containers through `DockerBackend` and `ContainerProxy` (the
code the invoker runs), on the host network and on the bridge; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import socket
import uuid

import pytest

from invoker.backend import ContainerSpec
from invoker.container import ContainerProxy

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]

# Reports the action's identity and everything of its container's processes it can read where a
# secret could hide: each process's environment and command line, and its own environment.
PROBE = r"""
import glob
import os


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except OSError as e:
        return type(e).__name__


def main(args):
    status = {}
    for line in read("/proc/self/status").splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    seen = {
        path: read(path)
        for pattern in ("/proc/[0-9]*/environ", "/proc/[0-9]*/cmdline", "/proc/[0-9]*/mem")
        for path in glob.glob(pattern)
    }
    seen["os.environ"] = repr(dict(os.environ))
    return {"status": status, "seen": seen}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def backend(docker_client, runtime_image):
    from invoker.docker_backend import DockerBackend

    backend = DockerBackend("pytest-harden-" + uuid.uuid4().hex[:6], client=docker_client)
    yield backend
    backend.remove_leftovers()


@pytest.fixture(params=["host", "bridge"])
def started(request, backend, runtime_image):
    """A started container (ContainerProxy) on each network mode, listening on 127.0.0.1."""
    port = free_port()
    env = {"__OW_PROXY_HOST": "127.0.0.1", "__OW_PROXY_PORT": str(port)}
    if request.param == "bridge":
        env = {"__OW_PROXY_HOST": "0.0.0.0", "__OW_PROXY_PORT": "8080"}
    spec = ContainerSpec(
        name=f"{backend.invoker_id}-{request.param}-{port}",
        image=runtime_image,
        port=port,
        memory=128,
        cpu=None,
        env=env,
        network=request.param,
    )
    proxy = ContainerProxy.start(backend, spec, timeout=30)
    yield proxy
    proxy.destroy()


def post(port: int, path: str, body: dict, headers: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST", path, json.dumps(body), {"Content-Type": "application/json", **headers}
        )
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


def init_body(code: str) -> bytes:
    return json.dumps({"value": {"name": "probe", "main": "main", "code": code}}).encode()


def test_the_invoker_and_the_runtime_name_the_secret_alike():
    # The proxy cannot import the invoker inside its image, so each side spells the names.
    from invoker import backend
    from runtimes.python import proxy

    assert (backend.SECRET_ENV, backend.SECRET_HEADER) == (proxy.SECRET_ENV, proxy.SECRET_HEADER)


def test_each_container_gets_its_own_secret(backend, runtime_image):
    specs = [ContainerSpec(f"s{i}", runtime_image, 1, 128, None) for i in range(2)]
    assert len({s.secret for s in specs}) == 2 and all(len(s.secret) >= 32 for s in specs)
    assert specs[0].secret not in repr(specs[0])  # never in logs of the spec


def test_the_runtime_answers_only_calls_carrying_its_secret(started):
    port = started.handle.port
    code = "def main(args):\n    return {'ran': True}\n"
    for headers in ({}, {"X-Tango-Container-Secret": "wrong"}):
        for path, body in (("/init", {"value": {"code": code}}), ("/run", {"value": {}})):
            status, reply = post(port, path, body, headers)
            assert status == 403 and "X-Tango-Container-Secret" in reply["error"], reply
    # The invoker's own calls (with the handle's secret) still work, and the refused /init
    # left the container uninitialized.
    assert started.init(init_body(code), timeout=30)[0] == 200
    status, data = started.run(b'{"value": {}}', timeout=30)
    assert (status, json.loads(data)) == (200, {"ran": True})


def test_the_action_runs_unprivileged_and_cannot_read_the_secret(started):
    assert started.init(init_body(PROBE), timeout=30)[0] == 200
    status, data = started.run(b'{"value": {}}', timeout=30)
    assert status == 200, data
    report = json.loads(data)
    status = report["status"]
    assert status["Uid"].split()[0] != "0" and status["Gid"].split()[0] != "0"
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[caps], 16) == 0, (caps, status[caps])
    assert status["NoNewPrivs"] == "1"
    # The runtime (PID 1 of the container) keeps its environment and memory to itself.
    assert started.handle.secret
    assert report["seen"]["/proc/1/environ"] == "PermissionError"
    assert report["seen"]["/proc/1/mem"] == "PermissionError"
    leaked = [path for path, text in report["seen"].items() if started.handle.secret in text]
    assert leaked == []
