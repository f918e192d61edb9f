"""Shared helpers for the Python runtime tests: ports, a keep-alive client, running proxies.

The conformance suite runs every test against two ways of hosting the proxy:
``local`` (the proxy as a subprocess of the test, no Docker, fast) and ``docker`` (the real
runtime image in a container with host networking and a port of its own on 127.0.0.1).
Tests ask for ``start_proxy`` and get a function that starts a fresh proxy and returns a
``RunningProxy``; everything started is stopped after the test.
"""

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtimes.python.proxy import SECRET_ENV, SECRET_HEADER

REPO = Path(__file__).resolve().parents[3]
PROXY = REPO / "runtimes" / "python" / "proxy.py"
BUILD_IMAGES = REPO / "docker" / "build-images.sh"
PYTHON_IMAGE = "tango/action-python-v3.11:latest"
SKELETON_IMAGE = "tango/dockerskeleton:latest"
SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, host="127.0.0.1", timeout=15.0, alive=lambda: True):
    """Block until something accepts connections on host:port (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise AssertionError(f"the proxy exited before listening on {host}:{port}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listened on {host}:{port} within {timeout}s")


class ProxyClient:
    """Minimal HTTP/1.1 keep-alive JSON client with TCP_NODELAY, like the invoker's."""

    def __init__(self, port, host="127.0.0.1", timeout=30.0, secret=None):
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self.connection.connect()
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Content-Type": "application/json"}
        if secret is not None:
            self.headers[SECRET_HEADER] = secret

    def post(self, path, body):
        """POST ``body`` (dict, or raw bytes) and return ``(status, decoded JSON or text)``."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.connection.request("POST", path, body=data, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")

    def close(self):
        self.connection.close()


class RunningProxy:
    """One started proxy holding container secret ``secret``, which its client sends as the
    invoker does: send /init and /run, read its stdout/stderr."""

    def __init__(self, port, read_logs, stop, secret):
        self.port = port
        self.secret = secret
        self.client = ProxyClient(port, secret=secret)
        self._read_logs = read_logs
        self._stop = stop

    def init(self, code, main=None, binary=False, env=None, name="test"):
        value = {"name": name, "code": code, "binary": binary}
        if main is not None:
            value["main"] = main
        if env is not None:
            value["env"] = env
        return self.client.post("/init", {"value": value})

    def run(self, value, **context):
        return self.client.post("/run", {"value": value, **context})

    def logs(self, stream, sentinels=0, timeout=10.0):
        """The container's ``stdout`` or ``stderr`` as text, once it holds ``sentinels``
        activation-end sentinels (container logs arrive asynchronously)."""
        deadline = time.monotonic() + timeout
        text = self._read_logs(stream)
        while text.count(SENTINEL) < sentinels and time.monotonic() < deadline:
            time.sleep(0.05)
            text = self._read_logs(stream)
        return text

    def stop(self):
        """Stop the proxy (idempotent: fixtures stop whatever a test left running)."""
        if self._stop is not None:
            self.client.close()
            self._stop()
            self._stop = None


def start_local_proxy(tmp_path, exec_actions=False):
    """The proxy as a child of the test process, its output captured in files."""
    port = free_port()
    secret = secrets.token_urlsafe(32)
    out, err = tmp_path / f"stdout-{port}", tmp_path / f"stderr-{port}"
    env = {
        **os.environ,
        "__OW_PROXY_HOST": "127.0.0.1",
        "__OW_PROXY_PORT": str(port),
        SECRET_ENV: secret,
    }
    if exec_actions:
        env["TANGO_EXEC_ACTIONS"] = "1"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-u", str(PROXY)], env=env, stdout=stdout, stderr=stderr
        )

    def stop():
        process.terminate()
        process.wait(timeout=10)

    try:
        wait_for_port(port, alive=lambda: process.poll() is None)
    except AssertionError:
        stop()
        raise
    paths = {"stdout": out, "stderr": err}
    return RunningProxy(port, lambda stream: paths[stream].read_text("utf-8"), stop, secret)


@pytest.fixture(scope="session")
def runtime_images(docker_client):
    """Build the runtime images once per session with the project's own build script.

    ``docker_client`` (tests/conftest.py) skips without Docker, or fails when CI=true.
    """
    result = subprocess.run(
        [str(BUILD_IMAGES), "python", "dockerskeleton"], capture_output=True, text=True
    )
    assert result.returncode == 0, f"build-images.sh failed:\n{result.stdout}\n{result.stderr}"
    return {"python": PYTHON_IMAGE, "skeleton": SKELETON_IMAGE}


def start_container_proxy(client, image):
    """The runtime image in a container on the host network, listening on 127.0.0.1 only."""
    port = free_port()
    secret = secrets.token_urlsafe(32)
    environment = {"__OW_PROXY_HOST": "127.0.0.1", "__OW_PROXY_PORT": str(port), SECRET_ENV: secret}
    container = client.containers.run(
        image,
        detach=True,
        network_mode="host",
        environment=environment,
        labels={"tango.test": "runtimes-python"},
    )

    def alive():
        container.reload()
        return container.status in ("created", "running")

    def stop():
        container.remove(force=True)

    try:
        wait_for_port(port, alive=alive)
    except AssertionError:
        logs = container.logs().decode("utf-8", "replace")
        stop()
        raise AssertionError(f"container did not start listening; its logs:\n{logs}") from None

    def read_logs(stream):
        return container.logs(stdout=stream == "stdout", stderr=stream == "stderr").decode("utf-8")

    return RunningProxy(port, read_logs, stop, secret)


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def start_proxy(request, tmp_path):
    """A function starting a fresh proxy (locally or in a container); all are stopped after.

    ``start(exec_actions=True)`` gives the blackbox flavour (the tango/dockerskeleton image).
    """
    started = []
    if request.param == "docker":
        images = request.getfixturevalue("runtime_images")
        client = request.getfixturevalue("docker_client")

        def start(exec_actions=False):
            image = images["skeleton" if exec_actions else "python"]
            started.append(start_container_proxy(client, image))
            return started[-1]
    else:

        def start(exec_actions=False):
            started.append(start_local_proxy(tmp_path, exec_actions))
            return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture
def start_image(docker_client):
    """Start any runtime-compatible image as a proxy container; all are removed after."""
    started = []

    def start(image):
        started.append(start_container_proxy(docker_client, image))
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()
