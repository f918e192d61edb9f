"""Who is calling: HTTP Basic ``UUID:KEY`` namespace keys, and the namespace a path may touch.

Keys are cached in memory (a key lookup is on every request); ``tango admin`` changes go
through ``Subjects`` and so refresh the cache of this process, other controllers notice within
``ttl`` seconds.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass

from sqlalchemy import select

from controller.errors import FORBIDDEN, UNAUTHORIZED, ApiError
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


class Subjects:
    def __init__(self, db: Database, ttl: float = 5.0):
        self.db = db
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Identity | None]] = {}
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
            s.add(
                Subject(
                    namespace=namespace,
                    uuid=uid,
                    key=secret,
                    admin=admin,
                    blocked=False,
                    limits=None,
                    created=int(time.time() * 1000),
                )
            )
        self._invalidate()
        return Identity(namespace, uid, secret, admin, None)

    def ensure(self, namespace: str, key: str, admin: bool = False) -> None:
        with self.db.session() as s:
            if s.get(Subject, namespace) is None:
                uid, _, secret = key.partition(":")
                s.add(
                    Subject(
                        namespace=namespace,
                        uuid=uid,
                        key=secret,
                        admin=admin,
                        blocked=False,
                        limits=None,
                        created=int(time.time() * 1000),
                    )
                )

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
        try:
            uid, _, secret = (
                base64.b64decode(authorization[6:], validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, UNAUTHORIZED) from None
        ident = self._lookup(uid)
        if ident is None or not hmac.compare_digest(ident.key, secret):
            raise ApiError(401, UNAUTHORIZED)
        return ident

    def _lookup(self, uid: str) -> Identity | None:
        now = time.monotonic()
        hit = self._cache.get(uid)
        if hit is not None and now - hit[0] < self.ttl:
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
        return ident


def resolve_namespace(identity: Identity, namespace: str) -> str:
    """``_`` is the caller's namespace; any other namespace must be the caller's own."""
    if namespace in ("_", identity.namespace):
        return identity.namespace
    if identity.admin:
        return namespace
    raise ApiError(403, FORBIDDEN)
