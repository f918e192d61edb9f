"""Input bounds, checked before any work is done: request body size (per endpoint, from
``Content-Length`` and while the body streams in), JSON depth and non-finite numbers (on
request bodies and on action results), code archives (unpacked size, file count, paths), query
integers (list paging, ``since``/``upto``) and size parameters.

The deciders (``body_limit``, ``json_problem``, ``check_archive``, ``bounded_int``,
``finite_number``) are pure; ``BodyLimit`` is the WSGI middleware that ``controller.app`` puts in
front of every route, web actions included; ``parse_json`` is what every JSON body goes
through (``controller.api.common.json_body``, the web-action route).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import posixpath
import re
import zipfile

from controller.config import SystemLimits
from controller.errors import MALFORMED, ApiError, malformed, transaction_id

# The largest integer a JSON client can hold exactly (JavaScript's Number.MAX_SAFE_INTEGER):
# the bound of every integer query parameter (skip, since, upto, timeout).
MAX_SAFE_INTEGER = 2**53 - 1

# ---- request bodies ---------------------------------------------------------------------------

_ACTION_PUT = re.compile(r"\A/api/v1/namespaces/[^/]+/actions/")
_INVOKE_OR_FIRE = re.compile(
    r"\A/api/v1/namespaces/[^/]+/(actions|triggers)/[^/]+(/[^/]+)?\Z|"
    r"\A/api/v1/namespaces/[^/]+/workflows/[^/]+\Z"
)


def body_limit(method: str, path: str, limits: SystemLimits) -> int:
    """The most bytes a request body to ``method path`` may have: web actions and invokes carry
    a payload (OpenWhisk's 1 MB), an action PUT carries code (48 MB) and parameters, as may an
    invoker's batch of records; every other request at most three parameter blocks (packages,
    triggers, workflows, hints)."""
    if path.startswith("/api/v1/web/"):
        return limits.max_payload
    if path.startswith("/internal/"):  # invokers (token checked next): batches of records
        return max_request_body(limits)
    if method == "PUT" and _ACTION_PUT.match(path):
        return max_request_body(limits)
    if method == "POST" and _INVOKE_OR_FIRE.match(path):
        return limits.max_payload
    return 3 * limits.max_parameters


def max_request_body(limits: SystemLimits) -> int:
    """The largest body any endpoint accepts (an action PUT: its code and parameters)."""
    return limits.max_code + 2 * limits.max_parameters


def too_large(size: int | str, limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request content was malformed:\nrequest entity size {size} bytes exceeds "
        f"allowed threshold of {limit} bytes",
    )


class BoundedInput:
    """A request body stream that raises 413 as soon as more than ``limit`` bytes arrive
    (chunked bodies have no ``Content-Length`` to check up front)."""

    CHUNK = 65536

    def __init__(self, stream, limit: int):
        self.stream, self.limit, self.seen = stream, limit, 0

    def _count(self, data: bytes) -> bytes:
        self.seen += len(data)
        if self.seen > self.limit:
            raise too_large(f"more than {self.limit}", self.limit)
        return data

    def read(self, size: int = -1) -> bytes:
        if size is not None and size >= 0:
            return self._count(self.stream.read(min(size, self.limit - self.seen + 1)))
        parts = []
        while True:
            data = self._count(self.stream.read(self.CHUNK))
            if not data:
                return b"".join(parts)
            parts.append(data)

    def readline(self, size: int = -1) -> bytes:
        bound = self.limit - self.seen + 1
        return self._count(self.stream.readline(bound if size < 0 else min(size, bound)))

    def __iter__(self):
        return iter(lambda: self.readline(), b"")


class BodyLimit:
    """WSGI middleware: answer 413 from ``Content-Length`` before the application (or anyone)
    reads the body, and bound what a streamed (chunked) body may deliver. Its own answers carry
    ``headers`` (the CORS headers every other answer has)."""

    def __init__(self, app, limits: SystemLimits, headers: dict[str, str] | None = None):
        self.app, self.limits = app, limits
        self.headers = list((headers or {}).items())

    def __call__(self, environ, start_response):
        limit = body_limit(
            environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""), self.limits
        )
        declared = environ.get("CONTENT_LENGTH") or ""
        if declared:
            if not declared.isdigit():
                return _answer(
                    start_response, 400, "The Content-Length header must be a number.", self.headers
                )
            if int(declared) > limit:
                return _answer(
                    start_response, 413, too_large(declared, limit).message, self.headers
                )
        if "wsgi.input" in environ:
            environ["wsgi.input"] = BoundedInput(environ["wsgi.input"], limit)
        return self.app(environ, start_response)


def _answer(start_response, status: int, message: str, headers: list[tuple[str, str]]):
    body = json.dumps({"error": message, "code": transaction_id()}).encode()
    reason = {400: "Bad Request", 413: "Request Entity Too Large"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


# ---- JSON -------------------------------------------------------------------------------------


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def parse_json(data: bytes | str, max_depth: int, finite: bool = True):
    """A JSON document from a request: valid JSON only (no NaN or Infinity, no number that
    overflows a float), nested at most ``max_depth`` deep; 400 naming the problem otherwise.
    ``finite=False`` lets non-finite numbers through (records an invoker delivers, whose results
    ``bounded_record`` turns into the developer's error rather than refusing the batch)."""
    strict = {"parse_constant": _reject_constant, "parse_float": _finite_float} if finite else {}
    try:
        value = json.loads(data, **strict)
    except RecursionError:
        raise malformed(f"the JSON is nested more than {max_depth} levels deep") from None
    except ValueError as exc:
        raise malformed(f"the body is not valid JSON ({exc})") from None
    problem = json_problem(value, max_depth, finite)
    if problem:
        raise malformed(problem)
    return value


def json_problem(value, max_depth: int, finite: bool = True) -> str | None:
    """Why ``value`` cannot be stored and served as JSON (too deep, a non-finite number unless
    ``finite`` is off), or None. Iterative: a value nested far deeper than Python's recursion
    limit is answered too."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                return f"the JSON is nested more than {max_depth} levels deep"
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if depth > max_depth:
                return f"the JSON is nested more than {max_depth} levels deep"
            stack.extend((v, depth + 1) for v in item)
        elif finite and isinstance(item, float) and not math.isfinite(item):
            return f"{item} is not a JSON number"
    return None


# ---- code archives ----------------------------------------------------------------------------


def check_archive(code_base64: str, limits: SystemLimits) -> None:
    """Before any runtime unpacks a base64 zip of action code: its files together at most the
    code limit (413), at most ``max_archive_files`` of them and no path that leaves the action's
    folder (400). Read from the archive's directory, which is what extraction trusts; a
    ``binary`` code that is not a zip (a blackbox executable) is left to the runtime."""
    try:
        raw = base64.b64decode(code_base64, validate=True)
    except (binascii.Error, ValueError):
        return
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        return
    try:
        infos = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    except (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError) as exc:
        raise malformed(f"the zip archive cannot be read ({exc})") from None
    if len(infos) > limits.max_archive_files:
        raise malformed(
            f"the zip archive holds {len(infos)} files; at most {limits.max_archive_files} "
            "are allowed"
        )
    unpacked = sum(i.file_size for i in infos)
    if unpacked > limits.max_code:
        raise ApiError(
            413,
            f"{MALFORMED}the zip archive unpacks to {unpacked} bytes, more than the code limit "
            f"of {limits.max_code} bytes",
        )
    for info in infos:
        if not safe_member(info.filename):
            raise malformed(
                f"the zip archive's entry '{info.filename[:200]}' points outside the action's "
                "folder"
            )


def safe_member(name: str) -> bool:
    """An archive path that stays inside the folder it is unpacked in."""
    if not name or "\\" in name or "\0" in name:
        return False
    norm = posixpath.normpath(name)
    return not (name.startswith("/") or norm == ".." or norm.startswith("../"))


# ---- numbers in queries -----------------------------------------------------------------------


def bounded_int(name: str, text: str, lo: int = 0, hi: int = MAX_SAFE_INTEGER) -> int:
    """An integer query parameter within [lo, hi]; 400 naming the parameter otherwise."""
    if not re.fullmatch(r"[+-]?\d{1,20}", text.strip()):
        raise ApiError(400, f"The query parameter '{name}' must be an integer, got '{text[:40]}'.")
    n = int(text)
    if n < lo:
        raise ApiError(400, f"The query parameter '{name}' must be at least {lo}.")
    if n > hi:
        raise ApiError(400, f"The query parameter '{name}' must be at most {hi}.")
    return n


def finite_number(name: str, text: str, lo: float, hi: float, unit: str) -> float:
    """A numeric query parameter in (lo, hi]; NaN, infinities and anything out of range → 400
    naming the parameter and the accepted range."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not lo < value <= hi:
        raise ApiError(
            400,
            f"The query parameter '{name}' must be a number greater than {lo:g} and at most "
            f"{hi:g} {unit}, got '{text[:40]}'.",
        )
    return value


# ---- action results ---------------------------------------------------------------------------


def bounded_record(record: dict, limits: SystemLimits) -> dict:
    """An activation record as it may be stored: a result nested deeper than
    ``max_json_depth`` or holding a non-finite number (which JSON cannot carry) is the action
    developer's error (status 2), recorded as such instead of the result."""
    response = record.get("response")
    if not isinstance(response, dict):
        return record
    problem = json_problem(response.get("result"), limits.max_json_depth)
    if problem is None:
        return record
    return {
        **record,
        "statusCode": 2,
        "response": {
            "status": "action developer error",
            "statusCode": 2,
            "success": False,
            "result": {"error": f"The action's result cannot be stored: {problem}."},
        },
    }
