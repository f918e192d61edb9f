"""The HTTP side of an invoke: the query parameters the REST invoke reads into the service's
terms (``parse_size``), and what ``ActivationService.invoke`` returns (``Accepted`` or a
finished ``Activation``) as OpenWhisk's reply: 202 with the id, or the record (or only its
result) with the status its outcome maps to. ``controller.invoke`` knows nothing of HTTP."""

from __future__ import annotations

from flask import Response, jsonify

from common.activation import Accepted, Activation
from common.activation_status import APPLICATION_ERROR, DEVELOPER_ERROR, INTERNAL_ERROR, SUCCESS
from common.sizes import Size
from controller.balancer import InvokerRegistry
from controller.errors import ApiError
from controller.invoke import INVOKER_LOST
from controller.limits import finite_number

# The status of a blocking invoke's reply, by the activation's status code (OpenWhisk's).
HTTP_FOR_STATUS = {SUCCESS: 200, APPLICATION_ERROR: 502, DEVELOPER_ERROR: 502, INTERNAL_ERROR: 500}


def activation_headers(outcome: Accepted | Activation) -> dict[str, str]:
    """The headers every invoke reply carries: the activation's id."""
    return {"x-openwhisk-activation-id": outcome.activation_id}


def http_status(activation: Activation) -> int:
    """The status of a blocking invoke's reply for a finished activation. An invoker that died
    mid-activation is an upstream failure (502), not a platform error (500)."""
    if activation.status_code == INTERNAL_ERROR and str(activation.response.error or "").startswith(
        INVOKER_LOST
    ):
        return 502
    return HTTP_FOR_STATUS[activation.status_code]


def invoke_reply(outcome: Accepted | Activation, result_only: bool) -> Response:
    """OpenWhisk's reply to ``POST .../actions/{name}``: 202 ``{"activationId"}`` for an accepted
    activation; for a finished one its record (``result_only``: its result) and
    ``http_status``."""
    if isinstance(outcome, Accepted):
        resp = jsonify({"activationId": outcome.activation_id})
        resp.status_code = 202
    else:
        resp = jsonify(outcome.response.result if result_only else outcome.to_json())
        resp.status_code = http_status(outcome)
    resp.headers.update(activation_headers(outcome))
    return resp


def parse_size(cpu: str | None, memory: str | None, registry: InvokerRegistry) -> Size | None:
    """``?cpu=1.5&memory=512`` on invoke: bind this size for the one activation (Tango
    extension). Each must be a finite number no larger than the largest invoker holds (400
    naming the parameter otherwise)."""
    if cpu is None and memory is None:
        return None
    invokers = registry.all()
    max_cpu = max((inv.cpus for inv in invokers), default=1024.0)
    max_memory = max((inv.user_memory for inv in invokers), default=1 << 20)
    c = finite_number("cpu", cpu, 0, max_cpu, "cores") if cpu is not None else 1.0
    m = finite_number("memory", memory, 63, max_memory, "MB") if memory is not None else 256
    if m != int(m):
        raise ApiError(
            400, f"The query parameter 'memory' must be a whole number of MB, got '{memory}'."
        )
    return Size(cpu=c, memory=int(m))
