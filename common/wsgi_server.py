"""The one way Tango's processes serve a WSGI app: waitress, with streamed answers kept alive.

waitress closes the connection after every response it sends with chunked transfer encoding
(an answer without a Content-Length: the invoker's ``POST /invoke``, whose status line leaves
once the activation is placed and whose body is the record). HTTP/1.1 allows keep-alive
there, and on the controller → invoker hop the close cost a connect, an accept and two closes
per activation (about a sixth of both processes' CPU per warm invoke,
``bench/profile_invoke.py``). ``create_server`` is ``waitress.create_server`` whose channels
keep such connections open unless the client asked ``Connection: close``; everything else
(HTTP/1.0, errors, a body shorter than its Content-Length) closes as waitress decides.
"""

from __future__ import annotations

from typing import Any

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import WSGITask


class KeepAliveChunkedTask(WSGITask):
    """A WSGI task that does not close the connection after a chunked HTTP/1.1 answer."""

    _building_header = False

    def build_response_header(self) -> bytes:
        self._building_header = True
        try:
            return super().build_response_header()
        finally:
            self._building_header = False

    def set_close_on_finish(self) -> None:
        # waitress calls this while building the header of a chunked HTTP/1.1 answer (only
        # then is ``chunked_response`` set during the build); a request that said
        # ``Connection: close`` was marked before, so it still closes.
        if self._building_header and self.chunked_response:
            return
        super().set_close_on_finish()


class KeepAliveChannel(HTTPChannel):
    task_class = KeepAliveChunkedTask


def create_server(app: Any, **kw: Any) -> Any:
    """``waitress.create_server(app, **kw)`` whose connections survive chunked answers."""
    server = waitress.create_server(app, **kw)
    listeners = [server] if isinstance(server, BaseWSGIServer) else list(server.map.values())
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = KeepAliveChannel
    return server
