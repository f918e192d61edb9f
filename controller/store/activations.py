"""Activation repository: the record is stored as ``running`` when accepted and replaced by the
final record when done, so an accepted activation always ends in a stored record (the reaper
finishes those whose invoker or controller died)."""
from __future__ import annotations

from sqlalchemy import func, select, update

from controller.store.db import Database
from controller.store.models import Activation

SUMMARY_KEYS = ("namespace", "name", "version", "publish", "annotations", "activationId",
                "start", "end", "duration", "statusCode", "cause")


class ActivationStore:
    def __init__(self, db: Database):
        self.db = db

    def accept(self, namespace: str, name: str, activation_id: str, start: int, deadline: int,
               doc: dict, cause: str | None = None) -> None:
        with self.db.session() as s:
            s.add(Activation(activation_id=activation_id, namespace=namespace, name=name, start=start,
                             end=0, status_code=0, state="running", deadline=deadline, cause=cause, doc=doc))

    def complete(self, record: dict, namespace: str, name: str) -> None:
        """Store the final record (insert or replace the running one)."""
        with self.db.session() as s:
            row = s.get(Activation, record["activationId"])
            if row is None:
                s.add(Activation(activation_id=record["activationId"], namespace=namespace, name=name,
                                 start=record.get("start", 0), end=record.get("end", 0),
                                 status_code=record.get("statusCode", 0), state="done",
                                 deadline=0, cause=record.get("cause"), doc=record))
            elif row.state != "done":
                row.start, row.end = record.get("start", row.start), record.get("end", 0)
                row.status_code, row.state, row.doc = record.get("statusCode", 0), "done", record

    def get(self, namespace: str, activation_id: str) -> dict | None:
        with self.db.session() as s:
            row = s.get(Activation, activation_id)
            if row is None or row.namespace != namespace:
                return None
            return row.doc

    def list(self, namespace: str, name: str | None = None, limit: int = 30, skip: int = 0,
             since: int | None = None, upto: int | None = None) -> list[dict]:
        q = self._filter(select(Activation), namespace, name, since, upto)
        q = q.order_by(Activation.start.desc()).offset(skip).limit(limit)
        with self.db.session() as s:
            return [r.doc for r in s.scalars(q)]

    def count(self, namespace: str, name: str | None = None, since: int | None = None,
              upto: int | None = None) -> int:
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
        with self.db.session() as s:
            rows = s.scalars(select(Activation).where(Activation.state == "running",
                                                      Activation.deadline < now_ms).limit(limit))
            return [(r.activation_id, r.namespace, r.name, r.doc) for r in rows]

    def running_count(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).select_from(Activation).where(Activation.state == "running")) or 0

    def fail_running(self, activation_ids: list[str], record_for) -> int:
        """Replace still-running records by ``record_for(doc)`` (used when an invoker dies)."""
        n = 0
        with self.db.session() as s:
            for aid in activation_ids:
                row = s.get(Activation, aid)
                if row is not None and row.state == "running":
                    rec = record_for(row.doc)
                    row.doc, row.state, row.end, row.status_code = rec, "done", rec["end"], rec["statusCode"]
                    n += 1
        return n


def summary(doc: dict) -> dict:
    return {k: doc[k] for k in SUMMARY_KEYS if k in doc}
