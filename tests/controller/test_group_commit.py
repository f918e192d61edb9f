"""The activation store's group commit (controller.store.activations): a running row lingers for
its final record and is written once with it; a final record or a flush is written at once;
a running row alone still reaches the store without anyone asking. SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from controller.store import activations as store_module
from controller.store.activations import ActivationStore
from controller.store.db import Database


def _doc(aid: str, status: str = "running") -> dict:
    return {"activationId": aid, "namespace": "guest", "name": "a", "start": 1, "end": 2,
            "statusCode": 0, "response": {"status": status}}  # fmt: skip


@pytest.fixture
def store(db_url):
    db = Database(db_url)
    db.migrate()
    commits: list[int] = []
    sa.event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    s = ActivationStore(db)
    yield s, db, commits
    s.close()
    db.engine.dispose()


def _state(db: Database, aid: str) -> str | None:
    with db.engine.connect() as c:
        return c.execute(
            sa.text("SELECT state FROM activations WHERE activation_id = :a"), {"a": aid}
        ).scalar()


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_a_warm_activation_is_written_once(store, monkeypatch):
    s, db, commits = store
    monkeypatch.setattr(store_module, "LINGER_S", 30.0)  # the running row waits for company
    s.accept("guest", "a", "a1", 1, 10_000, _doc("a1"), controller="c1", message={"m": 1})
    s.complete(_doc("a1", "success"), "guest", "a")
    s.flush()
    assert _state(db, "a1") == "done"
    assert len(commits) == 1  # the running row was never written on its own


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_flush_writes_a_lingering_running_row_at_once(store, monkeypatch):
    s, db, commits = store
    monkeypatch.setattr(store_module, "LINGER_S", 30.0)
    s.accept("guest", "a", "a2", 1, 10_000, _doc("a2"), controller="c1", message={"m": 1})
    s.flush()  # what a 202 does before it leaves: far sooner than the linger
    assert _state(db, "a2") == "running"
    assert s.state("a2") == "running"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_running_row_alone_is_written_after_the_linger(store):
    s, db, _ = store
    s.accept("guest", "a", "a3", 1, 10_000, _doc("a3"), controller="c1", message={"m": 1})
    deadline = time.monotonic() + 10
    while _state(db, "a3") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(db, "a3") == "running"  # nobody flushed: the writer did not wait forever


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_close_writes_what_is_queued(store, monkeypatch):
    s, db, _ = store
    monkeypatch.setattr(store_module, "LINGER_S", 30.0)
    s.accept("guest", "a", "a4", 1, 10_000, _doc("a4"), controller="c1", message={"m": 1})
    s.close()
    assert _state(db, "a4") == "running"
