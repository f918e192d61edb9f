"""The store on SQLite and PostgreSQL: schema only through Alembic, repositories behave the same."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from controller.auth import Subjects
from controller.errors import ApiError
from controller.store.activations import ActivationStore
from controller.store.db import MIGRATIONS_DIR, Database
from controller.store.entities import EntityStore

TABLES = {
    "subjects",
    "entities",
    "activations",
    "invokers",
    "workflows",
    "workflow_runs",
    "alembic_version",
}


def test_migrations_create_schema_and_round_trip(db_url):
    db = Database(db_url)
    db.migrate()
    db.migrate()  # idempotent
    assert TABLES <= set(sa.inspect(db.engine).get_table_names())
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert "entities" not in sa.inspect(db.engine).get_table_names()
    db.migrate()
    assert TABLES <= set(sa.inspect(db.engine).get_table_names())
    db.dispose()


def test_entity_and_activation_repositories(db_url):
    db = Database(db_url)
    db.migrate()
    entities, acts, subjects = EntityStore(db), ActivationStore(db), Subjects(db)
    ident = subjects.create("bob")
    assert (
        subjects.authenticate(
            "Basic " + __import__("base64").b64encode(ident.api_key.encode()).decode()
        ).namespace
        == "bob"
    )
    doc = entities.put(
        "bob", "actions", "a", False, lambda old: {"name": "a", "version": "0.0.1", "updated": 1}
    )
    assert entities.get("bob", "actions", "a") == doc
    try:
        entities.get("bob", "triggers", "a")
        raise AssertionError("expected a conflict")
    except ApiError as e:
        assert e.status == 409
    acts.accept(
        "bob",
        "a",
        "f" * 32,
        100,
        200,
        {"activationId": "f" * 32, "response": {"status": "running"}},
    )
    assert [a[0] for a in acts.overdue(300)] == ["f" * 32]
    acts.complete(
        {
            "activationId": "f" * 32,
            "start": 100,
            "end": 150,
            "statusCode": 0,
            "response": {"status": "success"},
        },
        "bob",
        "a",
    )
    assert acts.overdue(300) == []
    assert acts.get("bob", "f" * 32)["end"] == 150 and acts.get("alice", "f" * 32) is None
    assert acts.count("bob") == 1 and acts.count("bob", "zzz") == 0
    db.dispose()
