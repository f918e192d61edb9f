"""Entity repository: get, put (create / overwrite), delete and list of actions, packages,
triggers and rules, with OpenWhisk's conflict rules. Used by the API blueprints."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from controller.errors import CONFLICT_COLLECTION, EXISTS, NOT_FOUND, ApiError
from controller.store.db import Database
from controller.store.models import Entity


class EntityStore:
    """``get`` is served from a short-lived cache (every invoke reads its action): changes made
    through this process are seen at once, changes made by another controller within ``ttl``
    seconds, as with OpenWhisk's entity cache."""

    def __init__(self, db: Database, ttl: float = 2.0):
        self.db = db
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, str, dict]] = {}

    def get(self, namespace: str, collection: str, path: str) -> dict:
        key = (namespace, path)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is None or now - hit[0] > self.ttl:
            with self.db.session() as s:
                row = s.scalars(
                    select(Entity).where(Entity.namespace == namespace, Entity.path == path)
                ).first()
                if row is None:
                    self._cache.pop(key, None)
                    raise ApiError(404, NOT_FOUND)
                hit = (now, row.collection, row.doc)
            self._cache[key] = hit
        if hit[1] != collection:
            raise ApiError(409, CONFLICT_COLLECTION)
        return hit[2]

    def _invalidate(self, namespace: str, path: str) -> None:
        self._cache.pop((namespace, path), None)

    def find(self, namespace: str, collection: str, path: str) -> dict | None:
        try:
            return self.get(namespace, collection, path)
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    def put(
        self,
        namespace: str,
        collection: str,
        path: str,
        overwrite: bool,
        build: Callable[[dict | None], dict],
    ) -> dict:
        """Create or (with ``overwrite``) replace; ``build(old_doc)`` makes the new document."""
        try:
            return self._put(namespace, collection, path, overwrite, build)
        finally:
            self._invalidate(namespace, path)

    def _put(self, namespace, collection, path, overwrite, build) -> dict:
        package, _, name = path.rpartition("/")
        for _attempt in range(3):
            with self.db.session() as s:
                row = s.scalars(
                    select(Entity)
                    .where(Entity.namespace == namespace, Entity.path == path)
                    .with_for_update()
                ).first()
                if row is not None and row.collection != collection:
                    raise ApiError(409, CONFLICT_COLLECTION)
                if row is not None and not overwrite:
                    raise ApiError(409, EXISTS)
                doc = build(row.doc if row is not None else None)
                if row is None:
                    s.add(
                        Entity(
                            namespace=namespace,
                            collection=collection,
                            package=package,
                            name=name,
                            path=path,
                            version=doc.get("version", "0.0.1"),
                            doc=doc,
                            updated=doc["updated"],
                        )
                    )
                else:
                    row.doc, row.version, row.updated = (
                        doc,
                        doc.get("version", row.version),
                        doc["updated"],
                    )
                try:
                    s.flush()
                except IntegrityError:  # created concurrently: re-read and apply the rules again
                    s.rollback()
                    continue
                return doc
        raise ApiError(409, EXISTS)

    def delete(self, namespace: str, collection: str, path: str) -> dict:
        with self.db.session() as s:
            row = s.scalars(
                select(Entity).where(Entity.namespace == namespace, Entity.path == path)
            ).first()
            if row is None:
                raise ApiError(404, NOT_FOUND)
            if row.collection != collection:
                raise ApiError(409, CONFLICT_COLLECTION)
            doc = row.doc
            s.delete(row)
        self._invalidate(namespace, path)
        return doc

    def list(
        self,
        namespace: str,
        collection: str,
        package: str | None = "",
        limit: int = 30,
        skip: int = 0,
    ) -> list[dict]:
        q = select(Entity).where(Entity.namespace == namespace, Entity.collection == collection)
        if package is not None:
            q = q.where(Entity.package == package)
        q = q.order_by(Entity.updated.desc()).offset(skip)
        if limit:
            q = q.limit(limit)
        with self.db.session() as s:
            return [r.doc for r in s.scalars(q)]

    def count(self, namespace: str, collection: str, package: str | None = "") -> int:
        q = (
            select(func.count())
            .select_from(Entity)
            .where(Entity.namespace == namespace, Entity.collection == collection)
        )
        if package is not None:
            q = q.where(Entity.package == package)
        with self.db.session() as s:
            return s.scalar(q) or 0
