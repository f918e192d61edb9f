"""Invoker registrations and heartbeats in the store, so that every controller sharing one
database (PostgreSQL, several controllers) sees every invoker, whichever controller the invoker
reports to."""

from __future__ import annotations

from sqlalchemy import select

from common.clock import now_ms
from controller.store.db import Database
from controller.store.models import InvokerRow


class InvokerStore:
    def __init__(self, db: Database):
        self.db = db

    def register(self, id: str, url: str, user_memory: int, cpus: float) -> None:
        with self.db.session() as s:
            row = s.get(InvokerRow, id)
            if row is None:
                s.add(
                    InvokerRow(
                        id=id,
                        url=url,
                        user_memory=user_memory,
                        cpus=cpus,
                        registered=now_ms(),
                        last_seen=now_ms(),
                        status=None,
                    )
                )
            else:
                row.url, row.user_memory, row.cpus, row.last_seen = url, user_memory, cpus, now_ms()

    def heartbeat(self, id: str, status: dict, sent_ms: int | None = None) -> None:
        with self.db.session() as s:
            row = s.get(InvokerRow, id)
            if row is not None:
                row.last_seen, row.status = sent_ms or now_ms(), status

    def remove(self, id: str) -> None:
        """An invoker left cleanly: no controller of the store learns it again from its row."""
        with self.db.session() as s:
            row = s.get(InvokerRow, id)
            if row is not None:
                s.delete(row)

    def all(self) -> list[InvokerRow]:
        with self.db.session() as s:
            return list(s.scalars(select(InvokerRow)))
