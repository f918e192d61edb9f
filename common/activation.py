"""The activation record as one typed value: ``Activation`` and its ``ActivationResponse``.

An activation record travels as OpenWhisk's JSON (the REST API, the invoker's ``POST /invoke``
reply, the activation store): annotations there are a list of ``{"key", "value"}`` pairs. In
Python it is an ``Activation`` whose annotations are a mapping; ``from_json``/``to_json``
convert at the JSON edges and nowhere else, and produce exactly today's wire shape (key order
included), so a record read and written again is the same JSON (``docs/contracts.md``).

``Accepted`` is what a non-blocking invoke (or a blocking one whose wait ran out) returns
instead of a record: only the id is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from common.activation_status import INTERNAL_ERROR, STATUS_NAMES, SUCCESS

# The keys ``Activation`` models; any other key of a record is kept in ``extra`` as it came.
_RECORD_KEYS = (
    "namespace",
    "name",
    "version",
    "subject",
    "activationId",
    "start",
    "end",
    "duration",
    "statusCode",
    "response",
    "logs",
    "annotations",
    "publish",
    "cause",
)


def annotations_from_json(pairs: Iterable[Any] | None) -> dict[str, Any]:
    """OpenWhisk's ``[{"key", "value"}]`` as a mapping (entries without a string key are
    dropped; a repeated key keeps its last value, as ``kv_get`` readers saw the first — records
    never repeat one)."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        if isinstance(pair, dict) and isinstance(pair.get("key"), str):
            out[pair["key"]] = pair.get("value")
    return out


def annotations_to_json(annotations: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A mapping of annotations as OpenWhisk's ``[{"key", "value"}]``, in the mapping's order."""
    return [{"key": k, "value": v} for k, v in annotations.items()]


@dataclass(frozen=True, slots=True)
class ActivationResponse:
    """An activation record's ``response``: its status name and code, success, and result."""

    status: str
    status_code: int
    success: bool
    result: Any

    @classmethod
    def of(cls, status_code: int, result: Any) -> ActivationResponse:
        """The final response with status code ``status_code`` (0..3) and ``result``."""
        return cls(STATUS_NAMES[status_code], status_code, status_code == SUCCESS, result)

    @classmethod
    def running(cls) -> ActivationResponse:
        """The response of a record that was accepted and has not finished."""
        return cls("running", SUCCESS, False, {})

    @property
    def error(self) -> Any:
        """The result's ``error`` (None when the result has none)."""
        return self.result.get("error") if isinstance(self.result, dict) else None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> ActivationResponse:
        doc = doc or {}
        code = doc.get("statusCode", INTERNAL_ERROR)
        code = code if isinstance(code, int) and 0 <= code < len(STATUS_NAMES) else INTERNAL_ERROR
        status = doc.get("status")
        return cls(
            status if isinstance(status, str) else STATUS_NAMES[code],
            code,
            bool(doc.get("success", False)),
            doc.get("result"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "statusCode": self.status_code,
            "success": self.success,
            "result": self.result,
        }


@dataclass(frozen=True, slots=True)
class Activation:
    """One activation record (OpenWhisk's ``WhiskActivation``)."""

    namespace: str
    name: str
    activation_id: str
    subject: str
    start: int
    response: ActivationResponse
    version: str = "0.0.1"
    end: int = 0
    duration: int = 0
    logs: list[Any] = field(default_factory=list)
    annotations: Mapping[str, Any] = field(default_factory=dict)
    publish: bool = False
    cause: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys of a record not modelled here

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def path(self) -> str:
        """The action's ``namespace/[package/]name`` (the ``path`` annotation), or ''."""
        path = self.annotations.get("path")
        return path if isinstance(path, str) else ""

    def annotated(self, **notes: Any) -> Activation:
        """This record with ``notes`` added to (or replacing) its annotations."""
        return replace(self, annotations={**self.annotations, **notes})

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Activation:
        """An activation record as stored or sent (``to_json`` gives the same JSON back)."""
        cause = doc.get("cause")
        return cls(
            namespace=doc.get("namespace", ""),
            name=doc.get("name", ""),
            activation_id=doc.get("activationId", ""),
            subject=doc.get("subject", ""),
            start=doc.get("start", 0),
            response=ActivationResponse.from_json(doc.get("response")),
            version=doc.get("version", "0.0.1"),
            end=doc.get("end", 0),
            duration=doc.get("duration", 0),
            logs=list(doc.get("logs") or []),
            annotations=annotations_from_json(doc.get("annotations")),
            publish=bool(doc.get("publish", False)),
            cause=cause if isinstance(cause, str) and cause else None,
            extra={k: v for k, v in doc.items() if k not in _RECORD_KEYS},
        )

    def to_json(self) -> dict[str, Any]:
        """OpenWhisk's JSON of the record (annotations as ``[{"key", "value"}]``)."""
        doc: dict[str, Any] = {
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "subject": self.subject,
            "activationId": self.activation_id,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "statusCode": self.response.status_code,
            "response": self.response.to_json(),
            "logs": list(self.logs),
            "annotations": annotations_to_json(self.annotations),
            "publish": self.publish,
        }
        if self.cause:
            doc["cause"] = self.cause
        doc.update(self.extra)
        return doc


@dataclass(frozen=True, slots=True)
class Accepted:
    """An invoke that was accepted and whose record is not (yet) known to the caller."""

    activation_id: str
