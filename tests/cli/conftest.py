"""A recording fake of the REST API on 127.0.0.1 and a way to run ``tango`` in-process.

The fake answers canned responses per (method, path) and records every request, so CLI tests
assert exactly what the CLI sends (method, path, query, body, auth) and how it prints the
answer. It is a unit-test double for the client side only; end-to-end tests use the real
platform.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from cli.main import main

GUEST_KEY = (
    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
    "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
)
API = "/api/v1/namespaces/_"


@dataclass
class Recorded:
    method: str
    path: str  # decoded, without the query
    query: dict  # name -> value (single values)
    body: object  # parsed JSON or None
    auth: str | None  # "user:password" from Basic auth
    headers: dict


@dataclass
class Reply:
    status: int = 200
    body: object = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


class FakeApi:
    """Routes (method, path) to replies; several replies for one route are served in order, the
    last one repeating. Unrouted requests answer 404 in OpenWhisk's error shape."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[Recorded] = []
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        scheme = "http"
        if tls is not None:  # HTTPS, e.g. a proxy that asks for a client certificate
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def on(
        self,
        method: str,
        path: str,
        *replies: Reply | object,
        status: int = 200,
        headers: dict | None = None,
    ) -> None:
        self.routes[(method, path)] = [
            r if isinstance(r, Reply) else Reply(status, r, headers or {}) for r in replies
        ] or [Reply(status, {}, headers or {})]

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _reply_for(self, method: str, path: str) -> Reply:
        replies = self.routes.get((method, path))
        if not replies:
            return Reply(404, {"error": "The requested resource does not exist.", "code": "tid404"})
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _handle(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                auth = self.headers.get("Authorization")
                decoded = base64.b64decode(auth.split()[1]).decode() if auth else None
                path = unquote(parts.path)
                fake.requests.append(
                    Recorded(
                        self.command,
                        path,
                        {k: v[0] for k, v in parse_qs(parts.query).items()},
                        json.loads(raw) if raw else None,
                        decoded,
                        dict(self.headers),
                    )
                )
                reply = fake._reply_for(self.command, path)
                data = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        return Handler


@pytest.fixture
def api():
    fake = FakeApi()
    yield fake
    fake.close()


@pytest.fixture
def props_file(tmp_path, monkeypatch):
    """An isolated properties file; no WHISK_* variables leak in from the machine."""
    path = tmp_path / "wskprops"
    monkeypatch.setenv("WSK_CONFIG_FILE", str(path))
    for var in ("WHISK_AUTH", "WHISK_APIHOST", "WHISK_APIVERSION"):
        monkeypatch.delenv(var, raising=False)
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def tango(props_file, capsys):
    """``tango(*argv) -> Run``: run the CLI in-process with the current properties."""

    def run(*argv: str) -> Run:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def wsk(api, props_file, tango, monkeypatch):
    """``tango`` pointed at the fake API with the guest key (through the environment)."""
    monkeypatch.setenv("WHISK_APIHOST", api.url)
    monkeypatch.setenv("WHISK_AUTH", GUEST_KEY)
    return tango
