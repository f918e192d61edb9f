"""The admin web console: server-rendered pages at ``/console`` for operators and namespace
owners (overview, actions and activations, workflows, hints, savings, GPU runtimes).

``controller.app`` picks this package up through its optional-blueprint hook and calls
``register(app)``. Sessions are signed with ``SECRET_KEY``: taken from the Flask config when
set, else from ``TANGO_CONSOLE_SECRET`` (set it to the same value on every controller of a
multi-controller deployment), else generated at controller start — then a restart logs
everyone out.
"""

from __future__ import annotations

import secrets

from flask import Flask

from common.environment import environment
from controller.console.sources import VlmMetrics


def register(app: Flask) -> None:
    from controller.console.views import bp

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = environment().console_secret or secrets.token_hex(32)
    app.config.update(
        SESSION_COOKIE_NAME="tango_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/console",
    )
    app.extensions["tango_console"] = VlmMetrics()
    app.register_blueprint(bp)
