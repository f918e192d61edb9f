"""Console login: a namespace key (``UUID:KEY``) checked once, then a signed session cookie.

The cookie holds the namespace, the key's UUID and a keyed digest of the secret (never the
secret itself); every request re-reads the subject, so a changed key or a blocked namespace
ends the session. Admin keys may look at any namespace (``session["ns"]``); other keys are
pinned to their own. POST forms carry a per-session CSRF token. Used by the console views.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import current_app, g, request, session

from controller.api.common import services
from controller.auth import Identity
from controller.console.insights import landing_namespace
from controller.errors import ApiError

CSRF_FIELD = "csrf"


class LoginError(ValueError):
    """A key the console cannot accept; the message says what was wrong."""


def _digest(secret: str) -> str:
    key = current_app.secret_key
    assert isinstance(key, str)  # controller.console.register sets it as text
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def _authenticate(uuid: str, secret: str) -> Identity:
    token = base64.b64encode(f"{uuid}:{secret}".encode()).decode()
    return services().subjects.authenticate("Basic " + token)


def log_in(key: str) -> Identity:
    """Check a ``UUID:KEY`` and start a session for its namespace."""
    key = key.strip()
    uuid, sep, secret = key.partition(":")
    if not sep or not uuid or not secret:
        raise LoginError(
            "The key must look like UUID:KEY (as in ~/.wskprops AUTH or `tango property get --auth`)."
        )
    try:
        ident = _authenticate(uuid, secret)
    except ApiError:
        raise LoginError(
            "This key is not valid: no namespace has it, or its namespace is blocked."
        ) from None
    session.clear()
    session.update(
        namespace=ident.namespace,
        uuid=ident.uuid,
        digest=_digest(secret),
        csrf=secrets.token_urlsafe(24),
        ns=landing_namespace(ident.namespace, _last_activity()) if ident.admin else ident.namespace,
    )
    session.permanent = False
    return ident


def _last_activity() -> dict[str, int]:
    """When each namespace last ran something (its newest activation's start, epoch ms)."""
    svc, latest = services(), {}
    for subject in svc.subjects.list():
        newest = svc.activations.list(subject.namespace, limit=1)
        if newest:
            latest[subject.namespace] = int(newest[0].get("start") or 0)
    return latest


def log_out() -> None:
    session.clear()


def current_identity() -> Identity | None:
    """The logged-in subject, or None when there is no valid session."""
    if "identity" in g:
        return g.identity
    ns, uuid, digest = session.get("namespace"), session.get("uuid"), session.get("digest")
    if not (ns and uuid and digest):
        return None
    ident = services().subjects.get(ns)
    if ident is None or ident.uuid != uuid or not hmac.compare_digest(_digest(ident.key), digest):
        session.clear()
        return None
    try:
        ident = _authenticate(ident.uuid, ident.key)  # refuses blocked namespaces
    except ApiError:
        session.clear()
        return None
    g.identity = ident
    return ident


def current_namespace() -> str:
    """The namespace the console shows: the admin's choice, else the caller's own."""
    ident = current_identity()
    if ident is None:
        raise ApiError(401, "Log in first.")
    if ident.admin:
        return session.get("ns") or ident.namespace
    return ident.namespace


def choose_namespace(ns: str) -> None:
    ident = current_identity()
    if ident is None or not ident.admin:
        raise ApiError(
            403, "Only an admin key can switch namespaces; this key sees its own namespace only."
        )
    if services().subjects.get(ns) is None:
        raise ApiError(404, f"There is no namespace '{ns}'.")
    session["ns"] = ns


def csrf_token() -> str:
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(24)
    return session[CSRF_FIELD]


def check_csrf() -> None:
    """POSTs must echo the session's token (form field or ``X-CSRF-Token`` header)."""
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if not hmac.compare_digest(sent, session.get(CSRF_FIELD, "")):
        raise ApiError(
            400,
            "The form has expired or did not come from this console; reload the page and try again.",
        )
