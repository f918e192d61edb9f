"""The platform's keep-alive HTTP client: pooled connections that the server closed are retried."""

from __future__ import annotations

import http.server
import threading

import pytest

from common.httpclient import HttpPool


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(port: int = 0):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _restart(server):
    """Stop the server, then listen again on the same port."""
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    return _serve(port)


@pytest.fixture
def server():
    s = _serve()
    yield s
    s.shutdown()
    s.server_close()


def test_requests_reuse_pooled_connections_and_survive_a_server_restart(server):
    pool = HttpPool("127.0.0.1", server.server_address[1], timeout=5)
    # Several concurrent requests leave several idle keep-alive connections in the pool.
    results = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(pool.json("POST", "/", {"i": i})))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[1]["i"] for r in results) == [0, 1, 2, 3]
    idle = list(pool._idle)
    assert len(idle) >= 2
    for conn in idle:  # every pooled connection goes dead, as when the invoker restarts
        conn.sock.shutdown(2)
    server = _restart(server)
    try:
        assert pool.json("POST", "/", {"after": "restart"}) == (200, {"after": "restart"})
        assert pool.json("POST", "/", {"again": 1}) == (200, {"again": 1})
    finally:
        server.shutdown()
        server.server_close()


def test_adopted_socket_is_reused_and_a_closed_idle_one_is_never_written_to(server):
    import socket

    port = server.server_address[1]
    pool = HttpPool("127.0.0.1", port, timeout=5, retry_stale=False)
    probe = socket.create_connection(("127.0.0.1", port))
    pool.adopt(probe)
    assert pool.request("POST", "/", b"{}") == (200, b"{}")
    [conn] = pool._idle
    assert conn.sock is probe  # the probe connection carried the request
    assert probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    conn.sock.shutdown(2)  # the connection goes away while it sits idle
    # A pooled connection seen closed before sending is dropped, never written to: the request
    # goes out once, on a fresh connection (nothing is resent, so retry_stale=False holds).
    assert pool.request("POST", "/", b"{}") == (200, b"{}")
    [fresh] = pool._idle
    assert fresh is not conn and fresh.sock is not probe
