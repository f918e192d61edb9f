"""The activation store's group commit (controller.store.activations): writes are queued and
committed in batches by one writer; ``wait_committed`` returns only once a given write (or a
later row of the same activation that replaced it in the queue) is in the store, which is what
a blocking answer waits for before it names an activation id. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from controller.store.activations import ActivationStore
from controller.store.db import Database


def _doc(aid: str, status: str = "running") -> dict:
    return {"activationId": aid, "namespace": "guest", "name": "a", "start": 1, "end": 2,
            "statusCode": 0, "response": {"status": status}}  # fmt: skip


@pytest.fixture
def store(db_url):
    db = Database(db_url)
    db.migrate()
    s = ActivationStore(db)
    yield s, db
    s.close()
    db.engine.dispose()


def _state(db: Database, aid: str) -> str | None:
    with db.engine.connect() as c:
        return c.execute(
            sa.text("SELECT state FROM activations WHERE activation_id = :a"), {"a": aid}
        ).scalar()


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_wait_committed_returns_once_the_running_row_is_stored(store):
    s, db = store
    first = s.accept("guest", "a", "a1", 1, 10_000, _doc("a1"), controller="c1", message={})
    second = s.accept("guest", "a", "a2", 1, 10_000, _doc("a2"), controller="c1", message={})
    assert second > first
    s.wait_committed(second)
    assert _state(db, "a1") == _state(db, "a2") == "running"
    s.wait_committed(first)  # long done: returns at once


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_waiting_for_a_running_write_finds_a_row_even_when_its_final_replaced_it(store):
    s, db = store
    # Many activations accepted and finished together: their rows share batches (a running row
    # may be replaced by its final before it is written); waiting for any one's running write
    # means a row of it is in the store.
    seqs = {}
    for i in range(50):
        aid = f"b{i}"
        seqs[aid] = s.accept("guest", "a", aid, 1, 10_000, _doc(aid), controller="c1", message={})
        s.complete(_doc(aid, "success"), "guest", "a")
    for aid, seq in seqs.items():
        s.wait_committed(seq)
        assert _state(db, aid) in ("running", "done")  # never absent once waited for
    s.flush()
    assert {_state(db, aid) for aid in seqs} == {"done"}
