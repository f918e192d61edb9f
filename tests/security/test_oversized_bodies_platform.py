"""Bodies refused for their size or framing over real HTTP (a running ``tango standalone``,
raw sockets on 127.0.0.1): waitress's own refusals (a body over the largest any endpoint takes,
a Content-Length it cannot parse) and the BodyLimit middleware's (a body over its endpoint's
limit) answer OpenWhisk's JSON ``{"error", "code"}`` with the CORS headers every answer has."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import pytest

from controller.config import SystemLimits
from controller.limits import max_request_body

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

HOST = b"Host: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
PUT_ACTION = b"PUT /api/v1/namespaces/_/actions/oversized?overwrite=true HTTP/1.1\r\n"
LARGEST = max_request_body(SystemLimits())  # the standalone runs with the default limits


def raw_answer(apihost: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; the status, headers (lower-case names) and body of the answer."""
    url = urlparse(apihost)
    with socket.create_connection((url.hostname, url.port), timeout=60) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split(" ", 2)[1]), headers, body


def assert_openwhisk_error(headers: dict[str, str], body: bytes) -> dict:
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-methods" in headers
    doc = json.loads(body)
    assert set(doc) == {"error", "code"} and doc["code"]
    return doc


def test_a_body_over_the_largest_any_endpoint_takes_is_a_json_413(standalone):
    # announced, nothing sent: waitress refuses it from the header alone (it never buffers it)
    status, headers, body = raw_answer(
        standalone.apihost, PUT_ACTION + HOST + b"Content-Length: %d\r\n\r\n" % (LARGEST + 1)
    )
    assert status == 413
    doc = assert_openwhisk_error(headers, body)
    assert f"exceeds allowed threshold of {LARGEST} bytes" in doc["error"]


def test_a_content_length_that_is_no_number_is_a_json_400(standalone):
    status, headers, body = raw_answer(
        standalone.apihost, PUT_ACTION + HOST + b"Content-Length: lots\r\n\r\n"
    )
    assert status == 400
    assert_openwhisk_error(headers, body)


def test_a_body_over_its_endpoints_limit_is_refused_by_the_middleware_with_cors(standalone):
    # at most the largest, so waitress lets it through; over a trigger PUT's limit
    size = 3 * SystemLimits().max_parameters + 1
    status, headers, body = raw_answer(
        standalone.apihost,
        b"PUT /api/v1/namespaces/_/triggers/oversized HTTP/1.1\r\n"
        + HOST
        + b"Content-Length: %d\r\n\r\n" % size
        + b"x" * size,
    )
    assert status == 413
    doc = assert_openwhisk_error(headers, body)
    assert f"exceeds allowed threshold of {size - 1} bytes" in doc["error"]
