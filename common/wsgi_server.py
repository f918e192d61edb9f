"""The one way Tango's processes serve a WSGI app: waitress, with streamed answers kept alive.

waitress closes the connection after every response it sends with chunked transfer encoding
(an answer without a Content-Length: the invoker's ``POST /invoke``, whose status line leaves
once the activation is placed and whose body is the record). HTTP/1.1 allows keep-alive
there, and on the controller → invoker hop the close cost a connect, an accept and two closes
per activation (about a sixth of both processes' CPU per warm invoke,
``bench/profile_invoke.py``). ``create_server`` is ``waitress.create_server`` whose channels
keep such connections open unless the client asked ``Connection: close``; everything else
(HTTP/1.0, errors, a body shorter than its Content-Length) closes as waitress decides.

Each request's environ also says how long it waited in the server's queue for a worker thread
(``QUEUE_WAIT``, seconds from the end of its body to the start of its handler): the controller
answers an invoke that waited too long 503 at once (``controller.invoke.admission``) instead
of adding its work to an overloaded host.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import waitress
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask, WSGITask

from common.ids import random_id

QUEUE_WAIT = "tango.queue_wait_s"  # environ key: seconds the request waited for a thread


class StampedRequestParser(HTTPRequestParser):  # type: ignore[misc]  # waitress has no stubs
    """A request parser that notes when the request (with its body) was complete."""

    completed_at = 0.0

    def received(self, data: bytes) -> int:
        n: int = super().received(data)
        if self.completed and not self.completed_at:
            self.completed_at = time.monotonic()
        return n


class KeepAliveChunkedTask(WSGITask):  # type: ignore[misc]  # waitress has no stubs
    """A WSGI task that does not close the connection after a chunked HTTP/1.1 answer."""

    _building_header = False

    def get_environment(self) -> dict[str, Any]:
        first = self.environ is None
        environ: dict[str, Any] = super().get_environment()
        if first:
            completed = getattr(self.request, "completed_at", 0.0)
            environ[QUEUE_WAIT] = max(0.0, time.monotonic() - completed) if completed else 0.0
        return environ

    def build_response_header(self) -> bytes:
        self._building_header = True
        try:
            header: bytes = super().build_response_header()
            return header
        finally:
            self._building_header = False

    def set_close_on_finish(self) -> None:
        # waitress calls this while building the header of a chunked HTTP/1.1 answer (only
        # then is ``chunked_response`` set during the build); a request that said
        # ``Connection: close`` was marked before, so it still closes.
        if self._building_header and self.chunked_response:
            return
        super().set_close_on_finish()


class JsonErrorTask(ErrorTask):  # type: ignore[misc]  # waitress has no stubs
    """waitress's own refusals (a body over ``max_request_body_size``, a request it cannot
    parse) in OpenWhisk's ``{"error", "code"}`` form instead of plain text, with the headers the
    server was given for them (``create_server(error_headers=...)``: the controller's CORS)."""

    def execute(self) -> None:
        error = self.request.error
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size - 1  # waitress refuses >= max
            size = self.request.content_length or f"more than {limit}"  # chunked: no length
            message = (
                "The request content was malformed:\nrequest entity size "
                f"{size} bytes exceeds allowed threshold of {limit} bytes"
            )
        else:
            message = f"{error.reason}: {error.body}"
        body = json.dumps({"error": message, "code": random_id()}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.response_headers.extend(getattr(self.channel.server, "error_headers", ()))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class KeepAliveChannel(HTTPChannel):  # type: ignore[misc]  # waitress has no stubs
    task_class = KeepAliveChunkedTask
    error_task_class = JsonErrorTask
    parser_class = StampedRequestParser


def create_server(app: Any, error_headers: Iterable[tuple[str, str]] = (), **kw: Any) -> Any:
    """``waitress.create_server(app, **kw)`` whose connections survive chunked answers and
    whose own refusals are JSON carrying ``error_headers``."""
    server = waitress.create_server(app, **kw)
    listeners = [server] if isinstance(server, BaseWSGIServer) else list(server.map.values())
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = KeepAliveChannel
            listener.error_headers = list(error_headers)
    return server
