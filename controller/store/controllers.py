"""Live controllers in the shared store: one row per controller process (an *incarnation*),
refreshed every second by its own heartbeat job. Every controller reads the rows to learn which
others are alive: to divide namespace limits among them (``controller.throttle``), to tell
invokers where they can deliver results, and to find activations whose controller died
(``ActivationService.reconcile``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from common.clock import now_ms
from controller.store.db import Database
from controller.store.models import ControllerRow

ALIVE_MS = 5000  # a controller whose row is older than this is dead


@dataclass(frozen=True)
class LiveController:
    incarnation: str
    name: str
    url: str
    draining: bool


class ControllerStore:
    def __init__(self, db: Database):
        self.db = db

    def join(self, incarnation: str, name: str, url: str) -> None:
        """Register this process; earlier incarnations of the same name (host:port) are gone:
        their rows are removed, so their running activations are reconciled at once."""
        with self.db.session() as s:
            s.execute(delete(ControllerRow).where(ControllerRow.name == name))
            t = now_ms()
            s.add(
                ControllerRow(incarnation=incarnation, name=name, url=url, started=t, last_seen=t)
            )

    def beat(self, incarnation: str, name: str, url: str, draining: bool) -> None:
        with self.db.session() as s:
            row = s.get(ControllerRow, incarnation)
            if row is None:  # removed by another controller's clean-up after a long stall
                t = now_ms()
                s.add(
                    ControllerRow(
                        incarnation=incarnation, name=name, url=url, started=t, last_seen=t
                    )
                )
            else:
                row.last_seen, row.draining = now_ms(), draining

    def leave(self, incarnation: str) -> None:
        with self.db.session() as s:
            s.execute(delete(ControllerRow).where(ControllerRow.incarnation == incarnation))

    def live(self, alive_ms: int = ALIVE_MS) -> list[LiveController]:
        """Controllers that beat in the last ``alive_ms``; rows older than a minute are removed."""
        t = now_ms()
        with self.db.session() as s:
            s.execute(delete(ControllerRow).where(ControllerRow.last_seen < t - 60_000))
            rows = s.scalars(
                select(ControllerRow)
                .where(ControllerRow.last_seen >= t - alive_ms)
                .order_by(ControllerRow.started)
            )
            return [LiveController(r.incarnation, r.name, r.url, r.draining) for r in rows]
