"""Every runtime built on the Python proxy's server requires the container secret: the Python
action runtime and the VLM runtime (which also serves /init and /run), in process, over
127.0.0.1. The secret comes from the environment, as the invoker gives it, and is taken out of
it at once."""

from __future__ import annotations

import http.client
import json
import os
import threading

import pytest

from runtimes.python import proxy
from runtimes.python.proxy import SECRET_ENV, SECRET_HEADER, ActionProxy, ProxyServer
from runtimes.vlm.server import VLMRuntime, VLMServer

SECRET = "per-container-secret"


def call(port: int, path: str, body: dict, headers: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, json.dumps(body), headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


@pytest.fixture(params=["python", "vlm"])
def served(request, monkeypatch):
    """A runtime server started with SECRET in its environment; yields its port."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    # Non-dumpable is for the runtime's own process, not for pytest's.
    monkeypatch.setattr(proxy, "make_undumpable", lambda: None)
    if request.param == "python":
        server = ProxyServer(("127.0.0.1", 0), ActionProxy())
    else:
        server = VLMServer(("127.0.0.1", 0), VLMRuntime(builder=None))
    assert SECRET_ENV not in os.environ  # taken out before anything else runs
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/init", "/run"])
@pytest.mark.parametrize("presented", [None, "", "wrong", SECRET.upper()])
def test_calls_without_the_secret_are_refused_before_any_work(served, path, presented):
    headers = {} if presented is None else {SECRET_HEADER: presented}
    status, body = call(served, path, {"value": {}}, headers)
    assert status == 403 and SECRET_HEADER in body["error"]


def test_calls_with_the_secret_reach_the_runtime(served):
    # An empty /init is the runtime's own 4xx/5xx, not the secret's 403.
    status, body = call(served, "/init", {"value": {}}, {SECRET_HEADER: SECRET})
    assert SECRET_HEADER not in body.get("error", "")
