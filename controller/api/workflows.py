"""Workflows (Tango extension): ``/api/v1/namespaces/{ns}/workflows[/{name}]`` with runs,
hints, profiling and synthesis, and ``/workflow-runs``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from controller.api.common import flag, identity, int_arg, json_body, namespace_of, paging, services
from controller.errors import ApiError

bp = Blueprint("workflows", __name__, url_prefix="/api/v1/namespaces/<ns>")


def _wf():
    return services().workflows


@bp.get("/workflows")
def list_workflows(ns: str):
    limit, skip = paging()
    return jsonify(_wf().list(namespace_of(ns), limit, skip))


@bp.get("/workflows/<name>")
def get_workflow(ns: str, name: str):
    return jsonify(_wf().get(namespace_of(ns), name))


@bp.put("/workflows/<name>")
def put_workflow(ns: str, name: str):
    return jsonify(_wf().put(namespace_of(ns), name, json_body(), flag("overwrite")))


@bp.delete("/workflows/<name>")
def delete_workflow(ns: str, name: str):
    return jsonify(_wf().delete(namespace_of(ns), name))


@bp.post("/workflows/<name>")
def run_workflow(ns: str, name: str):
    ns = namespace_of(ns)
    params = json_body()
    max_wait = services().config.limits.max_blocking_wait_ms
    wait = min(int_arg("timeout", max_wait), max_wait) / 1000.0
    result_only = flag("result")
    status, body = _wf().run(
        identity(),
        ns,
        name,
        params,
        request.args.get("policy", "late"),
        flag("blocking") or result_only,
        wait,
    )
    if status == 200:
        status = 200 if body.get("status") == "success" else 502
        if result_only:
            body = body.get("result") if status == 200 else {"error": body.get("error")}
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["x-tango-run-id"] = body.get("runId", "") if isinstance(body, dict) else ""
    return resp


@bp.get("/workflow-runs")
def list_runs(ns: str):
    limit, skip = paging()
    return jsonify(_wf().list_runs(namespace_of(ns), request.args.get("name"), limit, skip))


@bp.get("/workflow-runs/<run_id>")
def get_run(ns: str, run_id: str):
    return jsonify(_wf().get_run(namespace_of(ns), run_id))


@bp.get("/workflows/<name>/hints")
def get_hints(ns: str, name: str):
    return jsonify(_wf().get_hints(namespace_of(ns), name))


@bp.put("/workflows/<name>/hints")
def put_hints(ns: str, name: str):
    body = json_body()
    if not isinstance(body, dict) or "hints" not in body:
        raise ApiError(400, 'The body must be {"hints": "<hint text>"}.')
    return jsonify(_wf().set_hints(namespace_of(ns), name, body["hints"]))


@bp.post("/workflows/<name>/profile")
def start_profile(ns: str, name: str):
    ns = namespace_of(ns)
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, 'The body must be {"inputs": [...], "options"?: [...], "repeats"?: n}.')
    repeats, options = body.get("repeats", 3), body.get("options")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 100:
        raise ApiError(400, "'repeats' must be an integer between 1 and 100.")
    if options is not None and (
        not isinstance(options, list) or not all(isinstance(o, str) for o in options)
    ):
        raise ApiError(400, "'options' must be a list of option names.")
    job = _wf().start_profile(identity(), ns, name, body)
    resp = jsonify({"jobId": job})
    resp.status_code = 202
    return resp


@bp.get("/workflows/<name>/profile")
def profile_status(ns: str, name: str):
    return jsonify(_wf().profile_status(namespace_of(ns), name))


@bp.post("/workflows/<name>/synthesize")
def synthesize(ns: str, name: str):
    body = json_body()
    p = body.get("percentile") if isinstance(body, dict) else None
    if p is not None and not (isinstance(p, (int, float)) and 0 < p < 100):
        raise ApiError(400, "'percentile' must be a number between 0 and 100 (e.g. 99).")
    return jsonify(_wf().synthesize(namespace_of(ns), name, p))


@bp.get("/workflows/<name>/report")
def report(ns: str, name: str):
    return jsonify(_wf().report(namespace_of(ns), name))
