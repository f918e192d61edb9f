"""`--container-network bridge`: each action container in its own network namespace, its runtime
reached through a port published on 127.0.0.1 only; the default host network for comparison."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import start_platform

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# Tries to open a TCP connection to the controller's port on the host's loopback address.
PROBE = """import os, socket
def main(args):
    api = os.environ.get("__OW_API_HOST")
    try:
        socket.create_connection(("127.0.0.1", int(args["port"])), timeout=2).close()
        return {"reached": True, "api": api}
    except OSError as e:
        return {"reached": False, "why": type(e).__name__, "api": api}
"""


@pytest.fixture(scope="module")
def bridged(tmp_path_factory):
    p = start_platform(tmp_path_factory.mktemp("bridge"), extra=["--container-network", "bridge"])
    yield p
    p.process.stop()


def deploy_probe(platform, tmp_path):
    src = tmp_path / "probe.py"
    src.write_text(PROBE)
    platform.tango("action", "update", "probe", str(src), "--kind", "python:3.11")


def test_bridge_runs_actions_and_keeps_host_loopback_out_of_reach(bridged, platform, tmp_path):
    deploy_probe(bridged, tmp_path)
    port = str(bridged.process.port)
    record = json.loads(
        bridged.tango("action", "invoke", "probe", "-b", "-p", "port", port).stdout.split("\n", 1)[
            1
        ]
    )
    assert record["response"]["success"] is True
    assert (
        record["response"]["result"]["reached"] is False
    )  # its own namespace: 127.0.0.1 is itself
    assert record["response"]["result"]["api"] == f"http://host.docker.internal:{port}"
    # The container is warm and reused through its published port.
    again = json.loads(bridged.tango("action", "invoke", "probe", "-r", "-p", "port", port).stdout)
    assert again["reached"] is False
    # On the default host network the same action reaches the host's loopback services.
    deploy_probe(platform, tmp_path)
    shared = json.loads(
        platform.tango(
            "action", "invoke", "probe", "-r", "-p", "port", str(platform.process.port)
        ).stdout
    )
    assert shared["reached"] is True
    assert shared["api"] == platform.apihost  # standalone tells actions where its controller is
