"""common.wsgi_server: a streamed (chunked) answer keeps its HTTP/1.1 connection open, so the
controller → invoker hop reuses one connection; ``Connection: close`` still closes."""

from __future__ import annotations

import socket
import threading

import pytest
from flask import Flask, Response, request

from common.httpclient import HttpPool
from common.wsgi_server import QUEUE_WAIT, create_server

HELD, RELEASE = threading.Event(), threading.Event()


def _app() -> Flask:
    app = Flask("streamed")

    @app.post("/stream")
    def stream():
        def body():
            yield b" "  # the status line leaves first, as the invoker's /invoke does
            yield b'{"done": true}'

        return Response(body(), mimetype="application/json")

    @app.post("/hold")
    def hold():
        HELD.set()
        RELEASE.wait(10)
        return {}

    @app.post("/wait")
    def wait():
        return {"queued": request.environ[QUEUE_WAIT]}

    return app


@pytest.fixture
def server():
    srv = create_server(_app(), host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=srv.run, daemon=True).start()
    yield srv
    srv.close()


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_chunked_answers_keep_the_connection_for_the_next_request(server):
    pool = HttpPool("127.0.0.1", server.effective_port, timeout=5)
    first = pool.request("POST", "/stream", b"{}")
    conn = pool._idle[-1]  # the connection the first answer left in the pool
    second = pool.request("POST", "/stream", b"{}")
    assert first == second == (200, b' {"done": true}')
    assert pool._idle == [conn]  # the same connection carried both
    pool.close()


def test_connection_close_is_still_honoured(server):
    with socket.create_connection(("127.0.0.1", server.effective_port), timeout=5) as sock:
        request = b"POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
        sock.sendall(request + b"\r\n{}")
        head = _read_answer(sock)
        assert b"Transfer-Encoding: chunked" in head and b"Connection: close" not in head
        sock.sendall(request + b"Connection: close\r\n\r\n{}")
        head = _read_answer(sock)
        assert b"Connection: close" in head
        assert sock.recv(10) == b""  # the server closed it


def test_environ_says_how_long_a_request_waited_for_a_worker_thread():
    srv = create_server(_app(), host="127.0.0.1", port=0, threads=1)
    threading.Thread(target=srv.run, daemon=True).start()
    try:
        busy = HttpPool("127.0.0.1", srv.effective_port, timeout=10)
        blocker = threading.Thread(target=lambda: busy.request("POST", "/hold", b"{}"))
        blocker.start()
        assert HELD.wait(10)  # the only worker thread is held
        pool = HttpPool("127.0.0.1", srv.effective_port, timeout=10)
        threading.Timer(0.5, RELEASE.set).start()
        _, queued = pool.json("POST", "/wait", {})  # waits until the thread is released
        blocker.join()
        _, alone = pool.json("POST", "/wait", {})
        assert queued["queued"] > 0.1 and alone["queued"] < queued["queued"]
    finally:
        srv.close()
