"""A small client for Tango's REST API (OpenWhisk v1 paths plus Tango's workflow extensions).

Used by the ``cli.commands`` modules; it knows paths, query flags and bodies, never how
anything is printed. One keep-alive ``requests.Session`` per client (urllib3 already sets
TCP_NODELAY, so a request's headers and body do not wait on Nagle's algorithm).

Every failure is an ``ApiError``: ``status`` is the HTTP status, or None when no response came
back at all (unreachable host, TLS failure, timeout); ``error`` and ``code`` are OpenWhisk's
``{"error": message, "code": transaction id}`` body fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

import requests
import urllib3

from cli.names import DEFAULT_NAMESPACE, QualifiedName

CONNECT_TIMEOUT_S = 10
# A blocking invoke waits up to the controller's limit (60 s by default, more with ?timeout=).
READ_TIMEOUT_S = 330


class ApiError(Exception):
    def __init__(
        self,
        status: int | None,
        error: str,
        code: str | None = None,
        body: Any = None,
        headers: dict | None = None,
    ):
        super().__init__(error)
        self.status = status
        self.error = error
        self.code = code
        self.body = body
        self.headers = headers or {}  # lower-case names

    def __str__(self) -> str:
        return f"{self.error} (code {self.code})" if self.code else self.error


@dataclass
class Response:
    """A status, the JSON (or text) body, and the headers with lower-case names."""

    status: int
    body: Any
    headers: dict = field(default_factory=dict)


class Client:
    """``Client(base_url, auth)`` where base_url is ``http://host:port/api/v1`` and auth is
    ``UUID:KEY``; ``trace`` (a text stream) receives every request and response (``-v``)."""

    def __init__(
        self,
        base_url: str,
        auth: str | None,
        insecure: bool = False,
        trace: TextIO | None = None,
        cert: str | tuple[str, str] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.trace = trace
        self.session = requests.Session()
        self.session.verify = not insecure
        if insecure:  # asked for: no warning on every request (wsk prints none)
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.session.cert = cert  # client TLS certificate: a PEM file or (certificate, key)
        self.session.headers["User-Agent"] = "tango-cli"
        if auth:
            user, _, password = auth.partition(":")
            self.session.auth = (user, password)

    # ---- transport -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        query: dict | None = None,
        body: Any = None,
        accept: Iterable[int] = (200,),
    ) -> Response:
        """Send one request; statuses outside ``accept`` raise ``ApiError``."""
        url = self.base_url + path
        params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
        try:
            # verify per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the
            # session's own setting, which would silently undo -i/--insecure
            resp = self.session.request(
                method,
                url,
                params=params,
                json=body,
                verify=self.session.verify,
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except requests.exceptions.SSLError as exc:
            if _asks_for_client_cert(exc):
                raise ApiError(
                    None,
                    f"Unable to connect to {self._root()}: the server asks for a client "
                    "certificate and did not accept "
                    + ("this one" if self.session.cert else "the connection without one")
                    + ". Give it with --cert FILE --key FILE (or 'tango property set "
                    "--cert FILE --key FILE').",
                ) from exc
            raise ApiError(
                None,
                f"Unable to connect to {self._root()} over TLS ({exc.__class__.__name__}). "
                "If the platform serves plain HTTP, set the API host with an http:// "
                "scheme (tango property set --apihost http://HOST:PORT); for a "
                "self-signed certificate use -i/--insecure.",
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            if self._root().startswith("https://") and _asks_for_client_cert(exc):
                raise ApiError(
                    None,
                    f"Unable to connect to {self._root()}: the server closed the TLS "
                    "connection, which it does when it wants a client certificate it "
                    "did not get. Give one with --cert FILE --key FILE.",
                ) from exc
            raise ApiError(
                None,
                f"Unable to connect to {self._root()}: is the platform running? (tango standalone)",
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise ApiError(None, f"The request to {self._root()} timed out.") from exc
        parsed = _parse_body(resp)
        if self.trace:
            self._trace(resp, body, parsed)
        headers = {k.lower(): v for k, v in resp.headers.items()}
        if resp.status_code not in accept:
            raise _error_from(resp.status_code, parsed, headers)
        return Response(resp.status_code, parsed, headers)

    def _root(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def _trace(self, resp: requests.Response, sent: Any, received: Any) -> None:
        req = resp.request
        headers = {
            k: ("Basic ***" if k.lower() == "authorization" else v) for k, v in req.headers.items()
        }
        out = self.trace
        print(f"REQUEST:\n[{req.method}]\t{req.url}", file=out)
        print(f"Req Headers\n{json.dumps(headers, indent=2)}", file=out)
        if sent is not None:
            print(f"Req Body\n{json.dumps(sent, indent=2)}", file=out)
        print(f"RESPONSE:Got response with code {resp.status_code}", file=out)
        print(f"Resp Headers\n{json.dumps(dict(resp.headers), indent=2)}", file=out)
        text = received if isinstance(received, str) else json.dumps(received, indent=2)
        print(f"Response body received:\n{text}", file=out)

    def _ns(self, namespace: str | None) -> str:
        return "/namespaces/" + quote(namespace or DEFAULT_NAMESPACE, safe="")

    def _entity_path(self, collection: str, qname: QualifiedName) -> str:
        return f"{self._ns(qname.namespace)}/{collection}/{quote(qname.entity, safe='/')}"

    # ---- info and namespaces ---------------------------------------------------------------

    def api_info(self) -> dict:
        """``GET /api/v1``: api_version, build, buildno."""
        return self.request("GET", "").body

    def namespaces(self) -> list[str]:
        return self.request("GET", "/namespaces").body

    def list_entities(
        self,
        collection: str,
        namespace: str | None = None,
        package: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> list[dict]:
        path = f"{self._ns(namespace)}/{collection}"
        if package:  # OpenWhisk lists a package's actions at .../actions/PKG/ (slash included)
            path += "/" + quote(package, safe="") + "/"
        return self.request("GET", path, {"limit": limit, "skip": skip}).body

    # ---- actions ---------------------------------------------------------------------------

    def get_action(self, qname: QualifiedName, code: bool = True) -> dict:
        return self.request(
            "GET", self._entity_path("actions", qname), None if code else {"code": False}
        ).body

    def put_action(self, qname: QualifiedName, entity: dict, overwrite: bool = False) -> dict:
        return self.request(
            "PUT",
            self._entity_path("actions", qname),
            {"overwrite": True} if overwrite else None,
            entity,
        ).body

    def invoke_action(
        self,
        qname: QualifiedName,
        params: dict,
        blocking: bool = False,
        result: bool = False,
        cpu: float | None = None,
        memory: int | None = None,
    ) -> Response:
        """Invoke; answers 200 (record or result), 202 (``{"activationId"}``) or 502 (the
        action failed: record, or ``{"error": ...}`` with ``result``) without raising."""
        query = {
            "blocking": True if blocking else None,
            "result": True if result else None,
            "cpu": cpu,
            "memory": memory,
        }
        return self.request(
            "POST",
            self._entity_path("actions", qname),
            query,
            params,
            accept=(200, 202, 502) if blocking else (200, 202),
        )

    # ---- activations -----------------------------------------------------------------------

    def list_activations(
        self,
        namespace: str | None = None,
        name: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
        since: int | None = None,
        upto: int | None = None,
        docs: bool = False,
    ) -> list[dict]:
        query = {
            "name": name,
            "limit": limit,
            "skip": skip,
            "since": since,
            "upto": upto,
            "docs": True if docs else None,
        }
        return self.request("GET", f"{self._ns(namespace)}/activations", query).body

    def get_activation(
        self, activation_id: str, namespace: str | None = None, part: str = ""
    ) -> Any:
        """The record, or one of its sub-resources (``part`` = ``logs`` or ``result``)."""
        path = f"{self._ns(namespace)}/activations/{quote(activation_id, safe='')}"
        return self.request("GET", path + (f"/{part}" if part else "")).body

    # ---- workflows (Tango extension) -------------------------------------------------------

    def put_workflow(self, qname: QualifiedName, definition: str, overwrite: bool = False) -> dict:
        return self.request(
            "PUT",
            self._entity_path("workflows", qname),
            {"overwrite": True} if overwrite else None,
            {"definition": definition},
        ).body

    def get_workflow(self, qname: QualifiedName) -> dict:
        return self.request("GET", self._entity_path("workflows", qname)).body

    def delete_workflow(self, qname: QualifiedName) -> dict:
        return self.request("DELETE", self._entity_path("workflows", qname)).body

    def invoke_workflow(
        self,
        qname: QualifiedName,
        params: dict,
        blocking: bool = False,
        result: bool = False,
        policy: str | None = None,
    ) -> Response:
        query = {
            "blocking": True if blocking else None,
            "result": True if result else None,
            "policy": policy,
        }
        return self.request(
            "POST",
            self._entity_path("workflows", qname),
            query,
            params,
            accept=(200, 202, 502) if blocking else (200, 202),
        )

    def list_runs(
        self, qname: QualifiedName, limit: int | None = None, skip: int | None = None
    ) -> list[dict]:
        query = {"name": qname.entity, "limit": limit, "skip": skip}
        return self.request("GET", f"{self._ns(qname.namespace)}/workflow-runs", query).body

    def get_run(self, run_id: str, namespace: str | None = None) -> dict:
        return self.request(
            "GET", f"{self._ns(namespace)}/workflow-runs/{quote(run_id, safe='')}"
        ).body

    def workflow_report(self, qname: QualifiedName) -> dict:
        return self.request("GET", self._entity_path("workflows", qname) + "/report").body

    # ---- hints, profiles, synthesis (Tango extension) ------------------------------------

    def get_hints(self, qname: QualifiedName) -> dict:
        return self.request("GET", self._entity_path("workflows", qname) + "/hints").body

    def put_hints(self, qname: QualifiedName, text: str) -> dict:
        return self.request(
            "PUT", self._entity_path("workflows", qname) + "/hints", None, {"hints": text}
        ).body

    def start_profile(
        self,
        qname: QualifiedName,
        inputs: list,
        options: list[str] | None,
        repeats: int | None,
        capacity_cores: float | None = None,
    ) -> dict:
        body: dict[str, Any] = {"inputs": inputs}
        if options:
            body["options"] = options
        if repeats is not None:
            body["repeats"] = repeats
        if capacity_cores is not None:
            body["capacityCores"] = capacity_cores
        return self.request(
            "POST",
            self._entity_path("workflows", qname) + "/profile",
            None,
            body,
            accept=(200, 202),
        ).body

    def profile_status(self, qname: QualifiedName) -> dict:
        return self.request("GET", self._entity_path("workflows", qname) + "/profile").body

    def synthesize(self, qname: QualifiedName, percentile: float | None) -> dict:
        body = {} if percentile is None else {"percentile": percentile}
        return self.request(
            "POST", self._entity_path("workflows", qname) + "/synthesize", None, body
        ).body


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _asks_for_client_cert(exc: Exception) -> bool:
    """Whether a TLS failure is the server refusing the client's (missing) certificate: TLS 1.3
    reports it as an alert, or the server resets the connection after the handshake."""
    text = str(exc).lower()
    return any(
        s in text
        for s in (
            "certificate required",
            "certificate_required",
            "bad certificate",
            "unknown ca",
            "connection reset",
            "eof occurred",
        )
    )


def _parse_body(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return resp.text


def _error_from(status: int, body: Any, headers: dict) -> ApiError:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return ApiError(status, body["error"], body.get("code"), body, headers)
    details = body if isinstance(body, str) else json.dumps(body)
    return ApiError(
        status,
        f"Request failed (status code = {status}). Error details: {details}",
        None,
        body,
        headers,
    )
