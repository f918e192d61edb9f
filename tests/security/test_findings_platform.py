"""Issue #14's findings over real HTTP: a running ``tango standalone`` (waitress, the invoker,
Docker containers running the Python runtime), asked on 127.0.0.1 with raw sockets where a
client library would refuse to send the request."""

from __future__ import annotations

import base64
import json
import socket
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

DEEP_RESULT = (
    "def main(a):\n    r = []\n    for _ in range(970):\n        r = [r]\n    return {'r': r}\n"
)
ECHO = "def main(a):\n    return a\n"


def raw_request(apihost: str, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes as they are; the status line and the body of the answer."""
    url = urlparse(apihost)
    with socket.create_connection((url.hostname, url.port), timeout=60) as s:
        s.sendall(head + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def create(platform, name: str, code: str = ECHO, **extra):
    body = {"exec": {"kind": "python:3.11", "code": code}, **extra}
    r = platform.api("PUT", f"/api/v1/namespaces/_/actions/{name}?overwrite=true", json=body)
    assert r.status_code == 200, r.text
    return r


def test_1_a_web_exported_sequence_cannot_reach_another_tenant(standalone):
    victim = standalone.in_new_namespace("victim")
    create(victim, "secret")
    victim_ns = victim.api("GET", "/api/v1/namespaces").json()[0]
    r = standalone.api(
        "PUT",
        "/api/v1/namespaces/_/actions/steal?overwrite=true",
        json={
            "exec": {"kind": "sequence", "components": [f"/{victim_ns}/secret"]},
            "annotations": [{"key": "web-export", "value": True}],
        },
    )
    assert r.status_code == 403 and set(r.json()) == {"error", "code"}


def test_6_a_large_body_to_a_web_action_is_refused_before_it_is_read(standalone):
    create(standalone, "hook", annotations=[{"key": "web-export", "value": True}])
    path = b"/api/v1/web/guest/default/hook.json"
    host = b"Host: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
    # announced 400 MB, nothing sent: refused from the header alone
    status, _ = raw_request(
        standalone.apihost,
        b"POST " + path + b" HTTP/1.1\r\n" + host + b"Content-Length: 400000000\r\n\r\n",
    )
    assert status == 413
    # 2 MB announced and sent: OpenWhisk's error body
    status, body = raw_request(
        standalone.apihost,
        b"POST " + path + b" HTTP/1.1\r\n" + host + b"Content-Length: 2097152\r\n\r\n",
        b"x" * 2_097_152,
    )
    assert status == 413 and set(json.loads(body)) == {"error", "code"}
    # chunked, no length to check: cut off while it streams
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(40)) + b"0\r\n\r\n"
    status, body = raw_request(
        standalone.apihost,
        b"POST " + path + b" HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\n",
        chunks,
    )
    assert status == 413 and set(json.loads(body)) == {"error", "code"}


@pytest.mark.parametrize(
    "header",
    [
        b"Authorization: Basic " + base64.b64encode("guest:s\u00e9cret".encode()),
        b"Authorization: Basic \xc3\xb1\xc3\xb1",
        b"X-Tango-Internal: t\xc3\xb6k\xc3\xa9n",
    ],
)
def test_9_non_ascii_credentials_are_401(standalone, header):
    path = b"/internal/invokers" if header.startswith(b"X-") else b"/api/v1/namespaces/_/actions"
    method = b"POST" if header.startswith(b"X-") else b"GET"
    status, body = raw_request(
        standalone.apihost,
        method
        + b" "
        + path
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        + header
        + b"\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
    )
    assert status == 401 and set(json.loads(body)) == {"error", "code"}


def test_13_and_14_bad_sizes_and_a_too_deep_result(standalone):
    create(standalone, "deep", DEEP_RESULT)
    r = standalone.api("POST", "/api/v1/namespaces/_/actions/deep?blocking=true&cpu=nan")
    assert r.status_code == 400 and "'cpu'" in r.json()["error"]
    r = standalone.api("POST", "/api/v1/namespaces/_/actions/deep?blocking=true", json={})
    assert r.status_code == 502, r.text
    record = r.json()
    assert record["response"]["status"] == "action developer error"
    got = standalone.api("GET", f"/api/v1/namespaces/_/activations/{record['activationId']}")
    assert got.status_code == 200 and got.json()["statusCode"] == 2
    listed = standalone.api("GET", "/api/v1/namespaces/_/activations?docs=true&limit=200")
    json.loads(listed.content, parse_constant=lambda c: pytest.fail(f"{c} in a listing"))


def test_7_a_recursive_sequence_is_refused(standalone):
    create(standalone, "loop")
    r = standalone.api(
        "PUT",
        "/api/v1/namespaces/_/actions/loop?overwrite=true",
        json={"exec": {"kind": "sequence", "components": ["/_/loop"]}},
    )
    assert r.status_code == 400 and r.json()["error"] == "Sequence may not refer to itself."
