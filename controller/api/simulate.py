"""What-if simulation of a workflow (Tango extension):
``POST /api/v1/namespaces/{ns}/workflows/{name}/simulate``.

Body (all optional but the workflow's profiles must exist): ``{"policies": [names] (default:
every policy), "sloMs": number (default: the workflow's SLO), "ratePerS": number (1),
"cores": number (2), "requests": int (1000), "inputs": [workflow inputs] (default: the
profiled inputs, drawn uniformly), "seed": int (0)}``. Answer: ``janus_sim.whatif.predict``'s
``{"workflow", "sloMs", "ratePerS", "requests", "cluster", "extrapolated", "policies": {name:
{"pricePerRun", "p50_ms", "p99_ms", "sloAttainment", ...} | {"error"}}}``. The simulation runs
in the request (about a second for 10,000 requests of a 5-node workflow).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from controller.api.common import json_body, namespace_of, services
from controller.errors import ApiError

bp = Blueprint("simulate", __name__, url_prefix="/api/v1/namespaces/<ns>")

LIMITS = {  # field -> (lowest, highest) accepted
    "sloMs": (1, 3_600_000),
    "ratePerS": (0.001, 10_000),
    "cores": (0.5, 4096),
    "requests": (1, 100_000),
    "seed": (0, 2**31 - 1),
}


def _number(body: dict, key: str, default, integer: bool = False):
    value = body.get(key, default)
    if value is None:
        return None
    lo, hi = LIMITS[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok or not lo <= value <= hi:
        kind = "an integer" if integer else "a number"
        raise ApiError(400, f"'{key}' must be {kind} from {lo:g} to {hi:g}, got {value!r}.")
    return int(value) if integer else float(value)


@bp.post("/workflows/<name>/simulate")
def simulate(ns: str, name: str):
    from controller.adapter import POLICY_NAMES, is_policy_name
    from hint_dsl.profiles import Profiles
    from janus_sim.whatif import predict

    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object (see docs/contracts.md).")
    policies = body.get("policies")
    if policies is not None:
        if (
            not isinstance(policies, list)
            or not policies
            or not all(isinstance(p, str) and is_policy_name(p) for p in policies)
        ):
            raise ApiError(
                400,
                f"'policies' must be a non-empty list of policy names ({', '.join(POLICY_NAMES)}, "
                "fixed:<option>, plan:<function>=<option>,...).",
            )
    inputs = body.get("inputs")
    if inputs is not None and (
        not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs)
    ):
        raise ApiError(400, "'inputs' must be a non-empty list of workflow input objects.")
    workflow, row = services().workflows.workflow(namespace_of(ns), name)
    if not row.profiles:
        raise ApiError(
            409, f"The workflow '{name}' has no profiles yet: run tango hints profile {name} first."
        )
    profiles = Profiles.from_json(row.profiles)
    try:
        result = predict(
            workflow,
            profiles,
            row.hints or None,
            policies,
            _number(body, "sloMs", None),
            _number(body, "ratePerS", 1.0),
            _number(body, "cores", 2.0),
            _number(body, "requests", 1000, integer=True),
            inputs,
            _number(body, "seed", 0, integer=True),
        )
    except ValueError as exc:
        raise ApiError(400, f"Cannot simulate workflow '{name}': {exc}") from None
    return jsonify(result)
