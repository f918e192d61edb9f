"""A minimal Redis client (RESP2 over one TCP socket) for workflow functions that move their data
through Redis: SET with expiry, GET, DEL. Standard library only, so the action images need no
extra package.

The address is configuration, not code: the `redis` parameter that `tango workflow deploy` sets
on the bundle's package from its deploy.json (`parameters.redis`, overridden by the deploying
shell's TANGO_REDIS_URL), e.g. redis://127.0.0.1:6379/0. Actions run on the host network by
default, so 127.0.0.1 is the host's Redis.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

DEFAULT_URL = "redis://127.0.0.1:6379/0"


class RedisError(RuntimeError):
    pass


class Redis:
    def __init__(self, url: str | None = None, timeout: float = 30.0):
        u = urlparse(url or DEFAULT_URL)
        if u.scheme != "redis":
            raise ValueError(f"redis URL must look like redis://host:port/db, got {url!r}")
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        if u.password:
            self.command("AUTH", u.password)
        db = (u.path or "/0").strip("/") or "0"
        if db != "0":
            self.command("SELECT", db)

    def command(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            data = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self.reader.readline()
        if not line:
            raise RedisError("connection closed by Redis")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.reader.read(n + 2)
            return data[:-2]
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise RedisError(f"unexpected reply {line[:40]!r}")

    def set(self, key: str, value: bytes, expire_s: int = 600) -> None:
        self.command("SET", key, value, "EX", expire_s)

    def get(self, key: str) -> bytes | None:
        return self.command("GET", key)

    def delete(self, *keys: str) -> int:
        return self.command("DEL", *keys) if keys else 0

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(params: dict) -> Redis:
    """The store named by the action's `redis` parameter (package configuration)."""
    return Redis(params.get("redis") or DEFAULT_URL)
