"""The platform's environment variables, read in one place into one typed object.

Every ``TANGO_*`` variable that configures a controller, an invoker or the admin commands is a
field here; the services read ``environment()`` (once per process) where a flag has no value,
so flags > environment > defaults everywhere. The CLI's client settings (``WHISK_*``,
``~/.wskprops``) are ``cli.config``'s, and variables that configure actions rather than the
platform (``TANGO_CGROUP_ROOT``, ``TANGO_REDIS_URL`` in ``workflows/``) stay beside their users.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Environment:
    host: str | None = None  # TANGO_HOST: the controller's listen address
    port: int | None = None  # TANGO_PORT: the controller's port
    data_dir: str | None = None  # TANGO_DATA_DIR: where the SQLite store and state live
    db_url: str | None = None  # TANGO_DB_URL: an SQLAlchemy URL (PostgreSQL for a cluster)
    internal_token: str | None = None  # TANGO_INTERNAL_TOKEN: the controller↔invoker secret
    console_secret: str | None = None  # TANGO_CONSOLE_SECRET: signs admin console sessions
    user_memory: int | None = None  # TANGO_USER_MEMORY: MB an invoker may give to containers

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Environment:
        """The fields from ``environ``; an empty variable counts as unset."""

        def text(name: str) -> str | None:
            return environ.get(name) or None

        def integer(name: str) -> int | None:
            value = text(name)
            if value is None:
                return None
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"{name} must be an integer, got {value!r}") from None

        return cls(
            host=text("TANGO_HOST"),
            port=integer("TANGO_PORT"),
            data_dir=text("TANGO_DATA_DIR"),
            db_url=text("TANGO_DB_URL"),
            internal_token=text("TANGO_INTERNAL_TOKEN"),
            console_secret=text("TANGO_CONSOLE_SECRET"),
            user_memory=integer("TANGO_USER_MEMORY"),
        )


@functools.cache
def environment() -> Environment:
    """This process's environment, read on first use."""
    return Environment.read(os.environ)
