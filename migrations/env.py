"""Alembic environment: migrations run against the URL the controller was configured with
(``sqlalchemy.url`` set by ``controller.store.db.migrate``) or ``TANGO_DB_URL``."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from common.environment import environment

config = context.config
url = config.get_main_option("sqlalchemy.url") or environment().db_url
if not url and config.attributes.get("connection") is None:
    raise SystemExit("set TANGO_DB_URL or sqlalchemy.url to run migrations")
if url:
    config.set_main_option("sqlalchemy.url", url)


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=None, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
