"""Who is calling: HTTP Basic ``UUID:KEY`` namespace keys, and the namespace a path may touch.

Keys are cached in memory (a key lookup is on every request), at most ``max_entries`` of them,
least recently used first out (random keys must not grow it without bound); ``tango admin``
changes go through ``Subjects`` and so refresh the cache of this process, other controllers
notice within ``ttl`` seconds. Which namespaces a key may touch is ``controller.entitlement``'s.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
import uuid as uuidlib
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select

from common.clock import now_ms
from controller.errors import UNAUTHORIZED, ApiError
from controller.store.db import Database
from controller.store.models import Subject


@dataclass(frozen=True, slots=True)
class Identity:
    namespace: str
    uuid: str
    key: str
    admin: bool
    limits: dict | None

    @property
    def api_key(self) -> str:
        return f"{self.uuid}:{self.key}"


def _new_subject(namespace: str, uid: str, secret: str, admin: bool) -> Subject:
    """The row of a new namespace: not blocked, the default limits."""
    return Subject(
        namespace=namespace,
        uuid=uid,
        key=secret,
        admin=admin,
        blocked=False,
        limits=None,
        created=now_ms(),
    )


class Subjects:
    def __init__(self, db: Database, ttl: float = 5.0, max_entries: int = 10_000):
        self.db = db
        self.ttl = ttl
        self.max_entries = max_entries
        self._cache: OrderedDict[str, tuple[float, Identity | None]] = OrderedDict()
        self._lock = threading.Lock()

    # -- admin ---------------------------------------------------------------------------
    def create(self, namespace: str, key: str | None = None, admin: bool = False) -> Identity:
        """Create a namespace with a fresh (or the given ``UUID:KEY``) key; error if it exists."""
        if key:
            uid, _, secret = key.partition(":")
        else:
            uid, secret = (
                str(uuidlib.uuid4()),
                secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:64],
            )
        with self.db.session() as s:
            if s.get(Subject, namespace) is not None:
                raise ValueError(f"namespace '{namespace}' already exists")
            s.add(_new_subject(namespace, uid, secret, admin))
        self._invalidate()
        return Identity(namespace, uid, secret, admin, None)

    def ensure(self, namespace: str, key: str, admin: bool = False) -> None:
        with self.db.session() as s:
            if s.get(Subject, namespace) is None:
                uid, _, secret = key.partition(":")
                s.add(_new_subject(namespace, uid, secret, admin))

    def list(self) -> list[Identity]:
        with self.db.session() as s:
            return [
                Identity(r.namespace, r.uuid, r.key, r.admin, r.limits)
                for r in s.scalars(select(Subject).order_by(Subject.namespace))
            ]

    def get(self, namespace: str) -> Identity | None:
        with self.db.session() as s:
            r = s.get(Subject, namespace)
            return None if r is None else Identity(r.namespace, r.uuid, r.key, r.admin, r.limits)

    def set_limits(self, namespace: str, limits: dict) -> dict:
        with self.db.session() as s:
            r = s.get(Subject, namespace)
            if r is None:
                raise KeyError(namespace)
            merged = dict(r.limits or {})
            merged.update({k: v for k, v in limits.items() if v is not None})
            r.limits = merged
        self._invalidate()
        return merged

    def _invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- request path --------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> Identity:
        if not authorization or not authorization.startswith("Basic "):
            raise ApiError(401, UNAUTHORIZED, {"WWW-Authenticate": 'Basic realm="tango"'})
        try:  # a header that is not ASCII base64 of UTF-8 text is no key (ValueError, not 500)
            uid, _, secret = (
                base64.b64decode(authorization[6:], validate=True).decode().partition(":")
            )
        except (binascii.Error, ValueError):
            raise ApiError(401, UNAUTHORIZED) from None
        ident = self._lookup(uid) if len(uid) <= 256 else None
        # compare_digest takes any bytes (a str only if ASCII): compare the UTF-8 encodings
        if ident is None or not hmac.compare_digest(ident.key.encode(), secret.encode()):
            raise ApiError(401, UNAUTHORIZED)
        return ident

    def _lookup(self, uid: str) -> Identity | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(uid)
            if hit is not None and now - hit[0] < self.ttl:
                self._cache.move_to_end(uid)
                return hit[1]
        with self.db.session() as s:
            r = s.scalars(select(Subject).where(Subject.uuid == uid)).first()
            ident = (
                None
                if r is None or r.blocked
                else Identity(r.namespace, r.uuid, r.key, r.admin, r.limits)
            )
        with self._lock:
            self._cache[uid] = (now, ident)
            self._cache.move_to_end(uid)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return ident
