"""Activation repository with a write-behind queue.

An activation is stored as ``running`` when accepted and replaced by its final record when done,
so an accepted activation always ends in a stored record (the reaper finishes those whose
controller died). Both writes go through one writer thread that commits whatever is queued as
one batch of upserts: under load, the per-activation cost of the store drops from two
transactions to a share of one, and an activation that finishes before its ``running`` row was
written is stored once. Reads flush the queue first, so they always see every write made
before them. Nothing that names an activation leaves before its ``running`` row (or a later
row of it) is committed: a 202 flushes, a blocking answer waits for ``wait_committed`` (which
seldom waits: the row is written while the activation runs).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from controller.store.db import Database
from controller.store.models import Activation

log = logging.getLogger("tango.controller")

SUMMARY_KEYS = (
    "namespace",
    "name",
    "version",
    "publish",
    "annotations",
    "activationId",
    "start",
    "end",
    "duration",
    "statusCode",
    "cause",
)


class ActivationStore:
    def __init__(self, db: Database):
        self.db = db
        self._queue: dict[str, dict] = {}  # activation id → row values (latest wins)
        self._queued_seq = 0  # writes queued so far
        self._committed_seq = 0  # writes committed so far
        self._cv = threading.Condition()
        self._closed = False
        upsert = sqlite.insert if db.is_sqlite else postgresql.insert
        stmt = upsert(Activation.__table__)
        self._upsert = stmt.on_conflict_do_update(
            index_elements=["activation_id"],
            set_={
                c: stmt.excluded[c]
                for c in (
                    "start",
                    "end",
                    "status_code",
                    "state",
                    "deadline",
                    "cause",
                    "doc",
                    "controller",
                    "message",
                )
            },
        )
        self._writer = threading.Thread(
            target=self._write_loop, name="activation-writer", daemon=True
        )
        self._writer.start()

    # -- writes (queued) -----------------------------------------------------------------
    def accept(
        self,
        namespace: str,
        name: str,
        activation_id: str,
        start: int,
        deadline: int,
        doc: dict,
        cause: str | None = None,
        controller: str | None = None,
        message: dict | None = None,
    ) -> int:
        """Queue the ``running`` record; ``controller`` (the accepting incarnation) and
        ``message`` (the invoke message) let another controller finish or re-dispatch it.
        Returns the write's sequence number (``wait_committed``)."""
        return self._enqueue(
            {
                "activation_id": activation_id,
                "namespace": namespace,
                "name": name,
                "start": start,
                "end": 0,
                "status_code": 0,
                "state": "running",
                "deadline": deadline,
                "cause": cause,
                "doc": doc,
                "controller": controller,
                "message": message,
            },
            replace_done=False,
        )

    def complete(self, record: dict, namespace: str, name: str) -> None:
        """Store the final record (insert, or replace the running one)."""
        self._enqueue(
            {
                "activation_id": record["activationId"],
                "namespace": namespace,
                "name": name,
                "start": record.get("start", 0),
                "end": record.get("end", 0),
                "status_code": record.get("statusCode", 0),
                "state": "done",
                "deadline": 0,
                "cause": record.get("cause"),
                "doc": record,
                "controller": None,
                "message": None,
            },
            replace_done=True,
        )

    def _enqueue(self, row: dict, replace_done: bool) -> int:
        with self._cv:
            old = self._queue.get(row["activation_id"])
            if old is None or replace_done or old["state"] != "done":
                self._queue[row["activation_id"]] = row
            self._queued_seq += 1
            self._cv.notify_all()
            return self._queued_seq

    def _write_loop(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if not self._queue and self._closed:
                    return
                batch, self._queue = list(self._queue.values()), {}
                seq = self._queued_seq
            try:
                with self.db.transaction() as connection:
                    connection.execute(self._upsert, batch)
            except Exception:  # keep the rows (newer ones win) and retry shortly
                log.exception("could not store %d activation records; retrying", len(batch))
                with self._cv:
                    for row in batch:
                        self._queue.setdefault(row["activation_id"], row)
                time.sleep(0.5)
                continue
            with self._cv:
                self._committed_seq = max(self._committed_seq, seq)
                self._cv.notify_all()

    def wait_committed(self, seq: int, timeout: float = 30.0) -> None:
        """Return once the write numbered ``seq`` (and all before it) is committed; at once if
        it is already. A row replaced in the queue by a later row of the same activation is
        committed with that one."""
        with self._cv:
            if self._committed_seq < seq:
                self._cv.wait_for(lambda: self._committed_seq >= seq, timeout)

    def flush(self, timeout: float = 30.0) -> None:
        """Return once everything queued before the call is committed."""
        with self._cv:
            target = self._queued_seq
            self._cv.wait_for(lambda: self._committed_seq >= target, timeout)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._writer.join(timeout=10)

    # -- reads ---------------------------------------------------------------------------
    def get(self, namespace: str, activation_id: str) -> dict | None:
        with self._cv:
            row = self._queue.get(activation_id)
        if row is not None:
            return row["doc"] if row["namespace"] == namespace else None
        with self.db.session() as s:
            r = s.get(Activation, activation_id)
            if r is None or r.namespace != namespace:
                return None
            return r.doc

    def list(
        self,
        namespace: str,
        name: str | None = None,
        limit: int = 30,
        skip: int = 0,
        since: int | None = None,
        upto: int | None = None,
    ) -> list[dict]:
        self.flush()
        q = self._filter(select(Activation), namespace, name, since, upto)
        q = q.order_by(Activation.start.desc()).offset(skip).limit(limit)
        with self.db.session() as s:
            return [r.doc for r in s.scalars(q)]

    def count(
        self,
        namespace: str,
        name: str | None = None,
        since: int | None = None,
        upto: int | None = None,
    ) -> int:
        self.flush()
        q = self._filter(select(func.count()).select_from(Activation), namespace, name, since, upto)
        with self.db.session() as s:
            return s.scalar(q) or 0

    @staticmethod
    def _filter(q, namespace, name, since, upto):
        q = q.where(Activation.namespace == namespace)
        if name:
            q = q.where(Activation.name == name)
        if since is not None:
            q = q.where(Activation.start >= since)
        if upto is not None:
            q = q.where(Activation.start <= upto)
        return q

    def overdue(self, now_ms: int, limit: int = 500) -> list[tuple[str, str, str, dict]]:
        """Running activations whose deadline has passed: (id, namespace, name, doc)."""
        self.flush()
        with self.db.session() as s:
            rows = s.scalars(
                select(Activation)
                .where(Activation.state == "running", Activation.deadline < now_ms)
                .limit(limit)
            )
            return [(r.activation_id, r.namespace, r.name, r.doc) for r in rows]

    def running_count(self) -> int:
        self.flush()
        with self.db.session() as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(Activation)
                    .where(Activation.state == "running")
                )
                or 0
            )

    def orphans(self, live: set[str], limit: int = 500) -> list[Orphan]:
        """Running activations accepted by a controller incarnation that is not in ``live``."""
        self.flush()
        with self.db.session() as s:
            rows = s.scalars(
                select(Activation)
                .where(
                    Activation.state == "running",
                    Activation.controller.is_not(None),
                    Activation.controller.not_in(live or {""}),
                )
                .order_by(Activation.start)
                .limit(limit)
            )
            return [
                Orphan(
                    r.activation_id, r.namespace, r.name, r.start, r.controller, r.doc, r.message
                )
                for r in rows
            ]

    def claim(self, activation_id: str, owner: str | None, new_owner: str) -> bool:
        """Take over a running activation from ``owner`` (compare-and-set: exactly one
        controller wins when several reconcile at once)."""
        with self.db.session() as s:
            res = s.execute(
                update(Activation)
                .where(
                    Activation.activation_id == activation_id,
                    Activation.state == "running",
                    Activation.controller == owner,
                )
                .values(controller=new_owner)
            )
            return res.rowcount == 1

    def state(self, activation_id: str) -> str | None:
        """``running``, ``done`` or None (no record)."""
        self.flush()
        with self.db.session() as s:
            return s.scalar(
                select(Activation.state).where(Activation.activation_id == activation_id)
            )

    def fail_running(self, activation_ids: list[str], record_for) -> int:
        """Replace still-running records by ``record_for(doc)`` (their controller died)."""
        n = 0
        with self.db.session() as s:
            for aid in activation_ids:
                row = s.get(Activation, aid)
                if row is not None and row.state == "running":
                    rec = record_for(row.doc)
                    row.doc, row.state, row.end, row.status_code = (
                        rec,
                        "done",
                        rec["end"],
                        rec["statusCode"],
                    )
                    n += 1
        return n


@dataclass(frozen=True)
class Orphan:
    """A running activation whose accepting controller is gone."""

    activation_id: str
    namespace: str
    name: str
    start: int
    controller: str
    doc: dict
    message: dict | None


def summary(doc: dict) -> dict:
    return {k: doc[k] for k in SUMMARY_KEYS if k in doc}
