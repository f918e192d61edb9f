"""Controller unit-test fixtures: a Flask test client on a fresh store, with a small fake
invoker (an HTTP server on 127.0.0.1 that answers ``/invoke`` from a script) registered."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from controller.app import build_services, create_app
from controller.config import GUEST_KEY, ControllerConfig
from tests.fake_records import activation_record


def basic(key: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}


class FakeInvoker:
    """Answers ``POST /invoke`` with ``behaviour(body) -> (status, reply | None)``; None sends
    the headers and closes the connection (an invoker dying mid-activation), "refuse" closes it
    before any answer (an invoker dying before it took the activation)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.behaviour = self.echo
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                status, reply = fake.behaviour(body)
                if reply is None:  # placed (headers sent, as an invoker does), then dies
                    self.send_response(status)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"1\r\n \r\n")
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if reply == "refuse":  # dies before it took the activation
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                # bytes: sent as they are (a reply no JSON encoder would write)
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def record(body: dict, result, status_code: int = 0, duration: int = 5) -> dict:
        return activation_record(body, result, status_code, duration)

    def echo(self, body):
        return 200, self.record(body, body["params"])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform(tmp_path):
    """(test client, services, fake invoker) on a fresh SQLite store."""
    cfg = ControllerConfig(db_url=f"sqlite:///{tmp_path / 'tango.db'}", bootstrap_dev_keys=True)
    services = build_services(cfg)
    app = create_app(cfg, services, start_jobs=False)
    fake = FakeInvoker()
    services.registry.register("invoker0", fake.url, 2048, 2.0)
    yield app.test_client(), services, fake
    fake.close()
    services.close()


@pytest.fixture
def guest():
    return basic(GUEST_KEY)
