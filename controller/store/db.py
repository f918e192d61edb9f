"""Database connection and schema set-up for the controller.

``Database(url)`` opens SQLite (WAL, one file, the default) or PostgreSQL (several controllers)
and ``migrate()`` brings the schema to the newest Alembic revision; nothing else creates tables.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from common.environment import environment

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes, fast commits
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 10},
                pool_size=16,
                max_overflow=32,
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_size=16, max_overflow=32, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and its busy handler sleeps in steps of up to 100 ms;
        # under load that sleeping, not the work, bounded throughput. One process-wide lock
        # makes units of work take turns instead (WAL keeps them short).
        self._serialise = threading.RLock() if self.is_sqlite else contextlib.nullcontext()

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (idempotent)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with self._serialise:
            s = self._sessions()
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise
            finally:
                s.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction (committed when the block ends): the same unit
        of work as ``session`` without the ORM, for bulk statements on the hot path."""
        with self._serialise, self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def default_url(data_dir: str | os.PathLike) -> str:
    return environment().db_url or f"sqlite:///{Path(data_dir).resolve() / 'tango.db'}"
