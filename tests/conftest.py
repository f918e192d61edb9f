"""Fixtures shared by every suite: the rule that CI never skips Docker or PostgreSQL tests,
and store URLs for SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, what: str) -> None:
    """Skip when ``what`` is missing on a developer machine; fail when CI=true."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required when CI=true but is not available")
    pytest.skip(f"{what} is not available")


def docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def docker_client():
    require(docker_available(), "a running Docker engine")
    import docker

    return docker.from_env()


def _pg_url() -> str | None:
    return os.environ.get("TANGO_TEST_PG_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A fresh, empty store URL of each dialect (PostgreSQL: a fresh schema-less database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tango.db'}"
        return
    base = _pg_url()
    require(base is not None, "PostgreSQL (TANGO_TEST_PG_URL)")
    import sqlalchemy as sa

    name = f"tango_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
