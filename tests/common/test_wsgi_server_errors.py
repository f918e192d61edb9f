"""common.wsgi_server: waitress's own refusals are OpenWhisk's JSON ``{"error", "code"}`` with
the headers the server was given (``error_headers``), for a body over its limit announced by
``Content-Length`` or streamed in chunks, and for a request it cannot parse."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from flask import Flask

from common.wsgi_server import create_server

LIMIT = 100  # waitress refuses a body of max_request_body_size or more


@pytest.fixture
def server():
    app = Flask("refusals")
    app.post("/echo")(lambda: {"ok": True})
    srv = create_server(
        app,
        host="127.0.0.1",
        port=0,
        threads=1,
        max_request_body_size=LIMIT + 1,
        error_headers=[("Access-Control-Allow-Origin", "*")],
    )
    threading.Thread(target=srv.run, daemon=True).start()
    yield srv
    srv.close()


def _answer(srv, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", srv.effective_port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
    return int(status_line.split(" ", 2)[1]), headers, body


HEAD = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"


@pytest.mark.parametrize(
    "request_bytes, status, size",
    [
        (HEAD + b"Content-Length: %d\r\n\r\n" % (LIMIT + 1), 413, f"{LIMIT + 1} bytes"),
        (
            HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % 200 + b"x" * 200 + b"\r\n",
            413,
            f"more than {LIMIT} bytes",
        ),
        (HEAD + b"Content-Length: lots\r\n\r\n", 400, None),
    ],
)
def test_waitress_refusals_are_json_with_the_given_headers(server, request_bytes, status, size):
    got, headers, body = _answer(server, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == "*"
    doc = json.loads(body)
    assert set(doc) == {"error", "code"} and doc["code"]
    if size:
        assert (
            f"request entity size {size} exceeds allowed threshold of {LIMIT} bytes" in doc["error"]
        )


def test_a_body_at_the_limit_reaches_the_application(server):
    got, _, body = _answer(
        server,
        HEAD + b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % LIMIT + b"x" * LIMIT,
    )
    assert got == 200 and json.loads(body) == {"ok": True}
