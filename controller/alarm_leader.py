"""Which controller fires the alarms: a leadership lock on the shared store.

APScheduler 3 does not coordinate schedulers that share a job store: with several controllers on
one PostgreSQL database, every controller would fire every alarm. So every controller starts its
alarm scheduler (``controller.alarms``) *paused* — paused, it still adds, changes and removes jobs
in the shared ``apscheduler_jobs`` table, so a feed request may land on any controller — and only
the controller holding the leadership lock resumes it and fires due alarms:

- PostgreSQL: the lock is ``pg_try_advisory_lock(ALARM_LOCK_KEY)`` on a dedicated connection
  (its own engine, no pool) kept open for as long as the controller leads; PostgreSQL releases the
  lock when that session ends (the process exits or is killed, or the connection breaks). Every
  ``poll_s`` seconds each follower tries the lock again and the leader checks its connection
  (``SELECT 1``); a leader whose connection failed pauses its scheduler at once. A new leader
  takes over within ``poll_s`` of the old leader's session ending and then makes the fires it
  missed under the alarm misfire policy (one coalesced fire if at most 60 s late).
  Caveat: a leader cut off from the database keeps its scheduler running until its next check,
  so for up to ``poll_s`` two controllers may fire the same alarm; a host that vanishes without
  closing its TCP connection holds the lock until PostgreSQL's keepalive notices.
- SQLite: one controller per store, which is always the leader.
- ``tango controller --no-alarms`` (``ControllerConfig.alarms = False``): never the leader; its
  feed requests still manage jobs, which the leader fires.

The leader also wakes its scheduler on every poll: a job added by another controller is seen
within ``poll_s`` (APScheduler only wakes itself for jobs added in its own process).

Built by ``controller.app.build_services`` (``tick`` runs on the periodic scheduler, ``close`` at
shutdown); ``controller.alarms.AlarmFeed`` asks to be told when this controller starts leading.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger("tango.alarms")

# One advisory-lock key for "the alarm leader" (advisory locks are per database).
ALARM_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"tango:alarm-leader").digest()[:8], "big", signed=True
)


class AlarmLeader:
    """Holds (or waits for) the alarm leadership and runs or pauses the alarm scheduler."""

    def __init__(self, engine: Engine, scheduler: BaseScheduler, enabled: bool = True):
        self.scheduler = scheduler
        self.enabled = enabled
        self.leading = False
        self._url = engine.url
        self._shared_lock = engine.dialect.name == "postgresql"
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._mutex = threading.Lock()
        self._on_lead: list[Callable[[], None]] = []
        scheduler.start(paused=True)  # jobs can be managed from now on; firing waits for the lock

    def on_lead(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time this controller becomes the leader (before any fire)."""
        self._on_lead.append(callback)

    def tick(self) -> None:
        """Try to take (or check) the lock, and run or pause the scheduler to match."""
        with self._mutex:
            if not self.scheduler.running:  # closed
                return
            holds = self._holds_lock()
            if holds and not self.leading:
                for callback in self._on_lead:
                    callback()
                self.scheduler.resume()
                log.info("this controller now fires the alarms")
            elif holds:
                self.scheduler.wakeup()  # pick up jobs other controllers added
            elif self.leading:
                self.scheduler.pause()
                log.warning("this controller lost the alarm leadership; its alarms are paused")
            self.leading = holds

    def _holds_lock(self) -> bool:
        if not self.enabled:
            return False
        if not self._shared_lock:
            return True
        try:
            if self._conn is None:
                self._engine = self._engine or sa.create_engine(
                    self._url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
                )
                self._conn = self._engine.connect()
            if self.leading:
                self._conn.execute(sa.text("SELECT 1"))
                return True
            return bool(
                self._conn.execute(
                    sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ALARM_LOCK_KEY}
                ).scalar()
            )
        except SQLAlchemyError as exc:
            log.warning(
                "alarm leadership: the lock connection failed (%s); retrying",
                exc.__class__.__name__,
            )
            self._drop_connection()
            return False

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # no pool: closing ends the session and so releases the lock
            except SQLAlchemyError:
                pass
            self._conn = None

    def close(self) -> None:
        """Stop firing and give the lock up (another controller takes over)."""
        with self._mutex:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            self.leading = False
            self._drop_connection()
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
