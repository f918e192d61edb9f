"""The one keep-alive HTTP/1.1 client with TCP_NODELAY, for the hops inside the platform
(controller → invoker, invoker → action container, benchmarks → controller and containers).

``requests`` costs about half a millisecond per call on this kind of machine; ``http.client``
with a pool of persistent connections and Nagle disabled costs a tenth of that. Each
request writes headers and body in one send, so no hop waits for a delayed ACK.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any


class ResponseBroken(ConnectionError):
    """The connection broke after the response's status line and headers arrived: the server
    had taken the request (a caller must not assume it was not acted on)."""


class NoDelayConnection(http.client.HTTPConnection):
    """An ``http.client`` connection with Nagle's algorithm off."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class HttpPool:
    """Persistent connections to one ``host:port``; safe to share between threads.

    ``retry_stale``: resend a request once, on a fresh connection, when a pooled one turns out
    closed by the server. Off where a request must never be sent twice (an action's ``/run``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = 60.0,
        max_idle: int = 64,
        retry_stale: bool = True,
    ):
        self.host, self.port, self.timeout, self.max_idle = host, port, timeout, max_idle
        self.retry_stale = retry_stale
        self._idle: list[NoDelayConnection] = []
        self._lock = threading.Lock()

    def adopt(self, sock: socket.socket) -> None:
        """Pool an already connected socket to ``host:port`` (e.g. a readiness probe's)."""
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = NoDelayConnection(self.host, self.port, timeout=self.timeout)
        conn.sock = sock
        self._give(conn)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; retries once, on a fresh connection, when a pooled one was stale
        (unless ``retry_stale`` is off). Timeouts raise ``TimeoutError``, a broken connection
        ``OSError`` or ``http.client.HTTPException``."""
        for attempt in (0, 1):
            conn, pooled = self._take(fresh=attempt > 0)
            conn.timeout = timeout or self.timeout
            if conn.sock is not None:
                conn.sock.settimeout(conn.timeout)
            try:
                hdrs = {"Content-Type": "application/json"} if body is not None else {}
                if headers:
                    hdrs.update(headers)
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
            except (
                ConnectionResetError,
                BrokenPipeError,
                http.client.RemoteDisconnected,
                http.client.CannotSendRequest,
            ):
                conn.close()
                if self.retry_stale and pooled and attempt == 0:
                    # The server closed this idle connection, and likely its siblings (a restart,
                    # an idle timeout): drop them all rather than retry on the next stale one.
                    self.close()
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            try:
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                # The server answered and then broke: it got the request, so never resend it.
                conn.close()
                raise ResponseBroken(f"{type(exc).__name__} after the response began") from exc
            except BaseException:
                conn.close()
                raise
            if resp.will_close:
                conn.close()
            else:
                self._give(conn)
            return resp.status, data
        raise ConnectionError("unreachable")

    def json(
        self,
        method: str,
        path: str,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.request(method, path, body, headers, timeout)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode(errors="replace")

    def _take(self, fresh: bool = False) -> tuple[NoDelayConnection, bool]:
        while not fresh:
            with self._lock:
                if not self._idle:
                    break
                conn = self._idle.pop()
            if _open(conn):
                return conn, True
            conn.close()  # the server closed it while idle (it stopped): never send on it
        return NoDelayConnection(self.host, self.port, timeout=self.timeout), False

    def _give(self, conn: NoDelayConnection) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()


def _open(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle pooled connection is still open: nothing (not even the end of the
    stream) is waiting to be read on it. One non-blocking peek, a microsecond."""
    sock = conn.sock
    if sock is None:
        return True  # not connected yet: connects on use
    sock.settimeout(0.0)  # request() sets the request's timeout right after
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
