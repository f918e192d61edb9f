"""Console test fixtures: the controller app on a fresh SQLite store with a small fake invoker
on 127.0.0.1 that answers ``GET /status`` (a container pool the test sets) and ``POST /invoke``
with a record carrying Tango's annotations (size, usage, startKind, waitTime/initTime)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.activation_status import APPLICATION_ERROR, SUCCESS
from controller.app import build_services, create_app
from controller.config import GUEST_KEY, ControllerConfig
from tests.fake_records import activation_record

ALICE_KEY = "11111111-2222-3333-4444-555555555555:alicealicealicealicealicealicealicealicealicealicealicealice1234"
CODE = {"exec": {"kind": "python:3", "code": "def main(args):\n    return args\n"}}


class FakeInvoker:
    def __init__(self):
        self.containers: list[dict] = []
        self.invocations = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/status":
                    self._send(
                        200,
                        {
                            "id": "invoker0",
                            "userMemory": 2048,
                            "cpus": 2.0,
                            "containers": fake.containers,
                            "buffer": 0,
                        },
                    )
                else:
                    self._send(404, {"error": "no such path"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._send(200, fake.record(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, body: dict) -> dict:
        self.invocations += 1
        a = body["action"]
        fail = body["params"].get("fail")
        size = body.get("size") or {"cpu": 1.0, "memory": a["limits"]["memory"]}
        cold = self.invocations == 1
        ann = [
            {"key": "path", "value": a["path"]},
            {"key": "kind", "value": a["exec"]["kind"]},
            {"key": "waitTime", "value": 7},
            {"key": "size", "value": size},
            {"key": "usage", "value": {"cpuTime": 12.5, "maxMemory": 31457280}},
            {"key": "startKind", "value": "cold" if cold else "warm"},
            {"key": "invoker", "value": "invoker0"},
        ]
        if cold:
            ann.append({"key": "initTime", "value": 42})
        return activation_record(
            body,
            {"error": "asked to fail"} if fail else body["params"],
            status_code=APPLICATION_ERROR if fail else SUCCESS,
            duration=25,
            annotations=ann,
            logs=["2026-11-27T00:00:00.000Z stdout: hello from the action"],
        )

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Console:
    """A logged-in (or not) browser-like client of the console."""

    def __init__(self, client, services, invoker):
        self.client, self.services, self.invoker = client, services, invoker
        self.csrf = ""

    def login(self, key: str = GUEST_KEY):
        r = self.client.post("/console/login", data={"key": key})
        assert r.status_code == 302, r.data
        self.csrf = re.search(
            r'name="csrf" value="([^"]+)"', self.get("/console/").get_data(as_text=True)
        ).group(1)
        return r

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, **kw):
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})}, **kw)

    def api(self, method: str, path: str, key: str = GUEST_KEY, **kw):
        import base64

        auth = {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}
        return self.client.open(path, method=method, headers=auth, **kw)


@pytest.fixture
def console(tmp_path):
    cfg = ControllerConfig(db_url=f"sqlite:///{tmp_path / 'tango.db'}", bootstrap_dev_keys=True)
    services = build_services(cfg)
    services.subjects.create("alice", ALICE_KEY)
    app = create_app(cfg, services, start_jobs=False)
    fake = FakeInvoker()
    services.registry.register("invoker0", fake.url, 2048, 2.0)
    yield Console(app.test_client(), services, fake)
    fake.close()
    services.close()
