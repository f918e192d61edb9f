"""Random identifiers (activation ids, transaction ids): 32 lower-case hex digits, 128 bits from
the operating system's CSPRNG, as ``uuid.uuid4().hex`` has them (less its six fixed bits).

``uuid.uuid4()`` makes one ``getrandom`` system call per id, and each releases the GIL; a warm
invoke took three. Here random bytes are read 4 KiB at a time and handed out 16 at a time.
"""

from __future__ import annotations

import os
import threading

_CHUNK = 4096


class _RandomBytes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buf = b""
        self._pos = _CHUNK

    def take16(self) -> bytes:
        with self._lock:
            if self._pos >= len(self._buf):
                self._buf, self._pos = os.urandom(_CHUNK), 0
            out = self._buf[self._pos : self._pos + 16]
            self._pos += 16
            return out

    def forget(self) -> None:
        """After a fork the child must not hand out the parent's bytes again."""
        self._buf, self._pos, self._lock = b"", _CHUNK, threading.Lock()


_random = _RandomBytes()
os.register_at_fork(after_in_child=_random.forget)


def random_id() -> str:
    """A fresh random id: 32 hex digits."""
    return _random.take16().hex()
