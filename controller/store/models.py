"""SQLAlchemy 2.0 models: the whole persistent state of the platform.

The schema is created and changed only by the Alembic migrations in ``migrations/``; these
classes describe it for queries. Entity documents (actions, packages, triggers, rules) and
activation records are kept as JSON in the exact OpenWhisk shape, with the columns needed for
lookups and listing pulled out beside them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Subject(Base):
    """A namespace and its API key (OpenWhisk's `subjects` database)."""

    __tablename__ = "subjects"
    namespace: Mapped[str] = mapped_column(String(256), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    key: Mapped[str] = mapped_column(String(64))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    limits: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created: Mapped[int] = mapped_column(BigInteger)


class Entity(Base):
    """An action, package, trigger or rule. ``path`` is ``name`` or ``package/name``; names are
    unique across collections inside a namespace, as in OpenWhisk."""

    __tablename__ = "entities"
    __table_args__ = (
        UniqueConstraint("namespace", "path", name="uq_entities_namespace_path"),
        Index("ix_entities_collection", "namespace", "collection", "package"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(256))
    collection: Mapped[str] = mapped_column(String(16))  # actions | packages | triggers | rules
    package: Mapped[str] = mapped_column(String(256), default="")
    name: Mapped[str] = mapped_column(String(256))
    path: Mapped[str] = mapped_column(String(513))
    version: Mapped[str] = mapped_column(String(32))
    doc: Mapped[dict] = mapped_column(JSON)
    updated: Mapped[int] = mapped_column(BigInteger)


class Activation(Base):
    """One activation record. ``state`` is ``running`` from acceptance until the final record
    replaces ``doc``; the reaper turns records stuck in ``running`` into whisk errors."""

    __tablename__ = "activations"
    __table_args__ = (
        Index("ix_activations_ns_start", "namespace", "start"),
        Index("ix_activations_ns_name_start", "namespace", "name", "start"),
        Index("ix_activations_state", "state"),
    )
    activation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(513))
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger, default=0)
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[int] = mapped_column(BigInteger, default=0)
    cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    doc: Mapped[dict] = mapped_column(JSON)
    controller: Mapped[str | None] = mapped_column(String(32), nullable=True)  # incarnation
    message: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # invoke message, running


class ControllerRow(Base):
    """A running controller process (one row per incarnation), refreshed every second."""

    __tablename__ = "controllers"
    incarnation: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))  # host:port it serves on
    url: Mapped[str] = mapped_column(String(256))  # where invokers reach it
    started: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)


class InvokerRow(Base):
    """A registered invoker as last seen by any controller (shared when several controllers run)."""

    __tablename__ = "invokers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(256))
    user_memory: Mapped[int] = mapped_column(Integer)
    cpus: Mapped[float] = mapped_column(Float)
    registered: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class WorkflowRow(Base):
    __tablename__ = "workflows"
    namespace: Mapped[str] = mapped_column(String(256), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    definition: Mapped[str] = mapped_column(Text)
    hints: Mapped[str | None] = mapped_column(Text, nullable=True)
    hints_updated: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    profiles: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    updated: Mapped[int] = mapped_column(BigInteger)


class WorkflowRun(Base):
    __tablename__ = "workflow_runs"
    __table_args__ = (Index("ix_workflow_runs_ns_wf_start", "namespace", "workflow", "start"),)
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(256))
    workflow: Mapped[str] = mapped_column(String(256))
    policy: Mapped[str] = mapped_column(String(64))
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16))
    met_slo: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    core_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    gb_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    doc: Mapped[dict] = mapped_column(JSON)
