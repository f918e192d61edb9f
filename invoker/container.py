"""`ContainerProxy`: the LIFE CYCLE of one action container (policy lives in `invoker.pool`).

The invoker service creates one proxy per container and calls, in order: `start` (create the
container and wait for its runtime to listen), `resize` (bind the activation's size in place),
`init` (once), `run` (per activation, with usage measured around it), `collect_logs`,
`pause`/`resume` when idle, `destroy`. The runtime speaks OpenWhisk's `/init` + `/run`
protocol on 127.0.0.1:<port> (host networking); every call carries the container's secret
(`SECRET_HEADER`), without which the runtime refuses it. HTTP goes through `common.httpclient.HttpPool`
(keep-alive, TCP_NODELAY; never resent): one connection per container, more only while
`concurrency > 1` activations overlap. The proxy's `state` is an `invoker.pool.ContainerState`.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable

from common.httpclient import HttpPool
from invoker import logs
from invoker.backend import (
    SECRET_HEADER,
    ContainerBackend,
    ContainerError,
    ContainerHandle,
    ContainerSpec,
    UsageSnapshot,
)
from invoker.pool import ContainerState


class RunTimeout(Exception):
    """The runtime did not answer within the action's time limit."""


class ConnectionBroken(Exception):
    """The runtime closed the connection or died mid-request."""


class ContainerProxy:
    def __init__(self, backend: ContainerBackend, handle: ContainerHandle):
        self.backend, self.handle = backend, handle
        self.lock = threading.Lock()  # serializes pause / resume / destroy
        self.state = ContainerState.STARTING
        self._state_when_paused: ContainerState | None = None
        self.log_offset = 0
        # An action's /run must never be sent twice, so no retry on a stale connection.
        self._http = HttpPool("127.0.0.1", handle.port, retry_stale=False)
        self._usage_start: UsageSnapshot | None = None
        self._headers = {SECRET_HEADER: handle.secret} if handle.secret else None

    @property
    def initialized(self) -> bool:
        """Whether /init succeeded (a paused container stays what it was)."""
        return ContainerState.WARM in (self.state, self._state_when_paused)

    @classmethod
    def start(
        cls, backend: ContainerBackend, spec: ContainerSpec, timeout: float
    ) -> ContainerProxy:
        """Create and start the container, and return once its runtime accepts connections."""
        proxy = cls(backend, backend.create(spec))
        try:
            proxy._wait_listening(timeout)
        except BaseException:
            proxy.destroy()
            raise
        proxy.state = ContainerState.PREWARM
        return proxy

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.001
        # A port published from a bridge-networked container accepts connections (Docker's proxy)
        # before the runtime inside listens: there only an HTTP answer says it is up.
        published = self.handle.extra.get("network") == "bridge"
        while True:
            try:
                if published:
                    _http_answer(self.handle.port)
                    return
                sock = socket.create_connection(("127.0.0.1", self.handle.port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline:
                    raise ContainerError(
                        f"container {self.handle.name} did not listen on 127.0.0.1:"
                        f"{self.handle.port} within {timeout:.0f} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 1.5, 0.02)
                continue
            self._http.adopt(sock)  # keep the probe connection for /init
            return

    # ---- HTTP -----------------------------------------------------------------------------

    def _post(self, path: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        try:
            return self._http.request("POST", path, body, self._headers, timeout=timeout)
        except TimeoutError:
            raise RunTimeout(path) from None
        except (OSError, http.client.HTTPException) as e:
            raise ConnectionBroken(f"{path}: {e}") from e

    def init(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        """POST /init once; the log offset is taken first so the first activation's logs
        include what its initialization printed, but not the runtime's start-up output."""
        self.log_offset = self.backend.log_offset(self.handle)
        status, data = self._post("/init", body, timeout)
        if status == 200:
            self.state = ContainerState.WARM
        return status, data

    def run(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        return self._post("/run", body, timeout)

    # ---- size, usage, logs ----------------------------------------------------------------

    def resize(self, cpu: float | None, memory: int) -> float:
        """Bind a size in place; milliseconds spent (0.0 when the size is unchanged)."""
        return self.backend.resize(self.handle, cpu, memory)

    def begin_usage(self) -> None:
        self.backend.reset_peak_memory(self.handle)
        self._usage_start = self.backend.usage(self.handle)

    def end_usage(self) -> dict:
        """`{"cpuTime": ms, "maxMemory": bytes}` since `begin_usage`."""
        end = self.backend.usage(self.handle)
        cpu_ns = end.cpu_ns - (self._usage_start.cpu_ns if self._usage_start else 0)
        return {"cpuTime": round(max(cpu_ns, 0) / 1e6, 3), "maxMemory": end.max_memory}

    def collect_logs(self, limit_mb: float, idle_timeout: float) -> list[str]:
        def read(offset: int) -> tuple[bytes, int]:
            chunk = self.backend.read_logs(self.handle, offset)
            return chunk.data, chunk.offset

        lines, self.log_offset = logs.collect(
            read, self.log_offset, int(limit_mb * 1024 * 1024), idle_timeout
        )
        return lines

    def oom_killed(self) -> bool:
        return self.backend.oom_killed(self.handle)

    # ---- idle life cycle ------------------------------------------------------------------

    def pause(self, still_wanted: Callable[[], bool]) -> None:
        """Freeze the container unless the pool handed it out again meanwhile."""
        with self.lock:
            if self.state in (ContainerState.PREWARM, ContainerState.WARM) and still_wanted():
                self.backend.pause(self.handle)
                self._state_when_paused, self.state = self.state, ContainerState.PAUSED

    def resume(self) -> None:
        with self.lock:
            if self.state is ContainerState.PAUSED:
                self.backend.resume(self.handle)
                self.state = self._state_when_paused or ContainerState.WARM
                self._state_when_paused = None

    def destroy(self) -> None:
        with self.lock:
            self.state = ContainerState.REMOVING
            self._http.close()
            self.backend.remove(self.handle)


def _http_answer(port: int) -> None:
    """One GET / on a fresh connection; OSError unless an HTTP status line comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: runtime\r\nConnection: close\r\n\r\n")
        if not sock.recv(16).startswith(b"HTTP/"):
            raise ConnectionResetError("no HTTP answer yet")
