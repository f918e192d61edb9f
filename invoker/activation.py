"""Activation results and records, as OpenWhisk defines them (pure functions).

The invoker service uses these to turn what happened in a container (an HTTP status and
body from `/init` or `/run`, a timeout, an OOM kill) into the response classification of
OpenWhisk's `ActivationResponse.processRunResponseContent`, and to assemble the complete
activation record the controller stores (`docs/contracts.md`, `POST /invoke`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from common.activation import Activation, ActivationResponse
from common.activation_status import (
    APPLICATION_ERROR,
    DEVELOPER_ERROR,
    SUCCESS,
)
from common.activation_status import (
    INTERNAL_ERROR as INTERNAL_ERROR,  # re-exported: the service classifies with it
)

MAX_RESULT_BYTES = 1024 * 1024

ABNORMAL_INIT = "The action did not initialize and exited unexpectedly."
ABNORMAL_RUN = "The action did not produce a valid response and exited unexpectedly."
MEMORY_EXHAUSTED = "The action exhausted its memory and was aborted."


def timed_out(timeout_ms: int, init: bool = False) -> str:
    phase = " during initialization" if init else ""
    return f"The action exceeded its time limits of {timeout_ms} milliseconds{phase}."


def invalid_response(body: str) -> str:
    suffix = f": {body}" if body else ""
    return f"The action did not produce a valid JSON response{suffix}"


def truncated_response(length: int, limit: int = MAX_RESULT_BYTES) -> str:
    return (
        f"The action produced a response that exceeded the allowed length: "
        f"{length} > {limit} bytes."
    )


@dataclass(frozen=True)
class Outcome:
    """Classified result of one activation: status code (0..3) and the stored result."""

    status_code: int
    result: dict | list | None

    @property
    def success(self) -> bool:
        return self.status_code == SUCCESS

    def response(self) -> ActivationResponse:
        return ActivationResponse.of(self.status_code, self.result)


def error(status_code: int, message) -> Outcome:
    return Outcome(status_code, {"error": message})


def classify_run(http_status: int, body: bytes) -> Outcome:
    """OpenWhisk's rules for a `/run` reply that arrived (docs/design.md §7.3)."""
    if len(body) > MAX_RESULT_BYTES:
        return error(APPLICATION_ERROR, truncated_response(len(body)))
    text = body.decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except ValueError:
        return error(DEVELOPER_ERROR, invalid_response(text))
    if isinstance(value, dict):
        if http_status == 200:
            return (
                error(APPLICATION_ERROR, value["error"])
                if "error" in value
                else Outcome(SUCCESS, value)
            )
        return error(DEVELOPER_ERROR, value.get("error", value))
    if isinstance(value, list) and http_status == 200:
        return Outcome(SUCCESS, value)
    return error(DEVELOPER_ERROR, invalid_response(text))


def classify_init(http_status: int, body: bytes) -> Outcome | None:
    """None when `/init` succeeded, else the developer error to report."""
    if http_status == 200:
        return None
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if isinstance(value, dict) and "error" in value:
        return error(DEVELOPER_ERROR, value["error"])
    return error(DEVELOPER_ERROR, ABNORMAL_INIT)


def build_activation(
    msg: dict, outcome: Outcome, *, start: int, end: int, logs: list[str], annotations: dict
) -> Activation:
    """The complete activation record for the `POST /invoke` message `msg`."""
    action = msg["action"]
    return Activation(
        namespace=msg.get("namespace") or action["namespace"],
        name=action["name"],
        version=action.get("version", "0.0.1"),
        subject=msg.get("subject") or msg.get("namespace") or "",
        activation_id=msg["activationId"],
        start=start,
        end=end,
        duration=end - start,
        response=outcome.response(),
        logs=logs,
        annotations=dict(annotations),
        cause=msg.get("cause") or None,
    )


def build_record(
    msg: dict, outcome: Outcome, *, start: int, end: int, logs: list[str], annotations: dict
) -> dict:
    """``build_activation`` as the JSON the invoker answers `POST /invoke` with."""
    return build_activation(
        msg, outcome, start=start, end=end, logs=logs, annotations=annotations
    ).to_json()
