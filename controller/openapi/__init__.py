"""Tango's own API description (Swagger 2.0), served at ``/api/v1/api-docs`` where OpenWhisk
serves its own, and what the tests and schemathesis validate real responses against.

It is OpenWhisk's ``apiv1swagger.json`` (copied here verbatim, Apache License 2.0) for the
resources Tango shares with it, with Tango's differences applied in ``document()``: every path
written in full from ``/`` (so the operator endpoints fit beside ``/api/v1``), the error answers
every operation can give (``{"error", "code"}``: 400, 401, 403, 404, 409, 413, 429, 503), the
invoke's size parameters, and Tango's own resources: workflows, their runs, hints, profiling,
synthesis and reports, the admin view of the invokers, discovery and health.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

OPENWHISK = Path(__file__).with_name("openwhisk-apiv1swagger.json")
PATH = "/api/v1/api-docs"
ERROR = {"$ref": "#/definitions/ErrorMessage"}
# Answers any operation may give, always with OpenWhisk's error body.
ERRORS = {
    "400": "The request is malformed or out of range (the message names what and where).",
    "401": "No key, or not a valid one.",
    "403": "The key may not touch this resource.",
    "404": "The resource does not exist.",
    "405": "The method is not allowed on this path.",
    "409": "The resource exists (or exists in another collection).",
    "413": "The request body (or code) is larger than allowed.",
    "429": "Too many requests: a throttle of the namespace.",
    "503": "No invoker can take the work, or the controller is stopping.",
}


def _error(description: str) -> dict:
    return {"description": description, "schema": ERROR}


def _ns() -> dict:
    return {"name": "namespace", "in": "path", "required": True, "type": "string"}


def _name(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "type": "string"}


def _query(name: str, kind: str, description: str, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "type": kind, **extra} | {
        "description": description
    }


def _body(name: str, schema: dict, required: bool = True) -> dict:
    return {"name": name, "in": "body", "required": required, "schema": schema}


def _ok(schema: dict | None, description: str = "OK", code: str = "200") -> dict:
    out: dict = {"description": description}
    if schema is not None:
        out["schema"] = schema
    return {code: out}


def _op(tag: str, summary: str, parameters: list, responses: dict, **extra) -> dict:
    return {
        "tags": [tag],
        "summary": summary,
        "parameters": parameters,
        "responses": responses,
        **extra,
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


def _array(name: str) -> dict:
    return {"type": "array", "items": _ref(name)}


TANGO_TAGS = ("Workflows", "Hints", "Admin", "Discovery", "Health")
PAGING = [
    _query("limit", "integer", "At most this many (0 or above 200: 200).", minimum=0),
    _query("skip", "integer", "Skip this many.", minimum=0),
]

DEFINITIONS = {
    "WorkflowPut": {
        "description": "A workflow definition: its YAML text, or the definition as JSON.",
        "type": "object",
        "properties": {"definition": {"type": "string"}},
    },
    "Workflow": {
        "type": "object",
        "required": ["namespace", "name", "version", "updated", "definition", "workflow"],
        "properties": {
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "updated": {"type": "integer"},
            "definition": {"type": "string"},
            "workflow": {"type": "object"},
            "hasHints": {"type": "boolean"},
            "hasProfiles": {"type": "boolean"},
        },
    },
    "WorkflowBrief": {
        "type": "object",
        "required": ["namespace", "name", "version", "updated"],
        "properties": {
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "updated": {"type": "integer"},
            "hasHints": {"type": "boolean"},
        },
    },
    "WorkflowDeleted": {
        "type": "object",
        "required": ["namespace", "name", "version"],
        "properties": {
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "string"},
        },
    },
    "SimulationRequest": {
        "type": "object",
        "properties": {
            "policies": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "sloMs": {"type": "number", "minimum": 1, "maximum": 3600000},
            "ratePerS": {"type": "number", "minimum": 0.001, "maximum": 10000},
            "cores": {"type": "number", "minimum": 0.5, "maximum": 4096},
            "requests": {"type": "integer", "minimum": 1, "maximum": 100000},
            "inputs": {"type": "array", "items": {"type": "object"}, "minItems": 1},
            "seed": {"type": "integer", "minimum": 0, "maximum": 2147483647},
        },
    },
    "Simulation": {
        "type": "object",
        "required": ["workflow", "policies"],
        "properties": {"workflow": {"type": "string"}, "policies": {"type": "object"}},
    },
    "WorkflowRun": {
        "description": "A run record (``runId`` only while it runs without a wait).",
        "type": "object",
        "required": ["runId"],
        "properties": {
            "runId": {"type": "string"},
            "workflow": {"type": "string"},
            "policy": {"type": "string"},
            "status": {"type": "string"},
            "start": {"type": "integer"},
            "nodes": {"type": "array", "items": {"type": "object"}},
        },
    },
    "WorkflowRunBrief": {
        "type": "object",
        "required": ["runId", "workflow", "policy", "start", "status"],
        "properties": {
            "runId": {"type": "string"},
            "workflow": {"type": "string"},
            "policy": {"type": "string"},
            "start": {"type": "integer"},
            "end": {"type": "integer"},
            "status": {"type": "string"},
            "coreSeconds": {"type": "number"},
            "gbSeconds": {"type": "number"},
        },
    },
    "HintsPut": {
        "type": "object",
        "required": ["hints"],
        "properties": {"hints": {"type": "string"}},
    },
    "Hints": {
        "type": "object",
        "required": ["hints", "updated"],
        "properties": {
            "hints": {"type": "string"},
            "updated": {"type": "integer"},
            "warnings": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ProfileRequest": {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "inputs": {"type": "array", "items": {"type": "object"}, "minItems": 1},
            "options": {"type": "array", "items": {"type": "string"}},
            "repeats": {"type": "integer", "minimum": 1, "maximum": 100},
            "capacityCores": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
        },
    },
    "ProfileJob": {
        "type": "object",
        "required": ["jobId"],
        "properties": {"jobId": {"type": "string"}},
    },
    "ProfileStatus": {
        "type": "object",
        "required": ["job"],
        "properties": {"job": {}, "profiles": {"type": "object"}},
    },
    "SynthesisRequest": {
        "type": "object",
        "properties": {"percentile": {"type": "number"}},
    },
    "Synthesis": {
        "type": "object",
        "required": ["hints", "report"],
        "properties": {"hints": {"type": "string"}, "report": {}},
    },
    "WorkflowReport": {
        "type": "object",
        "required": ["workflow", "slo", "policies"],
        "properties": {
            "workflow": {"type": "string"},
            "slo": {"type": "object"},
            "policies": {"type": "object"},
        },
    },
    "InvokerDetails": {
        "type": "object",
        "required": ["id", "state", "userMemory", "cpus", "containers"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "state": {"type": "string"},
            "userMemory": {"type": "integer"},
            "cpus": {"type": "number"},
            "reachable": {"type": "boolean"},
            "containers": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Info": {
        "type": "object",
        "required": ["description", "api_paths", "limits", "runtimes"],
        "properties": {
            "description": {"type": "string"},
            "api_paths": {"type": "array", "items": {"type": "string"}},
            "limits": {"type": "object"},
            "runtimes": {"type": "object"},
        },
    },
    "ApiInfo": {
        "type": "object",
        "required": ["description", "api_version", "api_version_path", "swagger_paths"],
        "properties": {
            "description": {"type": "string"},
            "api_version": {"type": "string"},
            "api_version_path": {"type": "string"},
            "build": {"type": "string"},
            "buildno": {"type": "string"},
            "swagger_paths": {"type": "object"},
        },
    },
}


def _tango_paths() -> dict:
    wf = "/api/v1/namespaces/{namespace}/workflows/{workflowName}"
    name = _name("workflowName")
    tag = "Workflows"
    return {
        "/": {"get": _op("Discovery", "Platform info, limits, runtimes", [], _ok(_ref("Info")))},
        "/api/v1": {"get": _op("Discovery", "API version", [], _ok(_ref("ApiInfo")))},
        PATH: {"get": _op("Discovery", "This document", [], _ok({"type": "object"}))},
        "/ping": {
            "get": _op("Health", "Liveness", [], _ok({"type": "string"}), produces=["text/html"])
        },
        "/invokers": {
            "get": _op(
                "Health",
                "Each invoker's state",
                [],
                _ok({"type": "object", "additionalProperties": {"type": "string"}}),
            )
        },
        "/api/v1/admin/invokers": {
            "get": _op(
                "Admin",
                "Every invoker with its capacity and containers (admin keys only)",
                [],
                _ok(_array("InvokerDetails")),
            )
        },
        "/api/v1/namespaces/{namespace}/workflows": {
            "get": _op(tag, "List workflows", [_ns(), *PAGING], _ok(_array("WorkflowBrief")))
        },
        wf: {
            "get": _op(tag, "Get a workflow", [_ns(), name], _ok(_ref("Workflow"))),
            "put": _op(
                tag,
                "Create or update a workflow",
                [
                    _ns(),
                    name,
                    _query("overwrite", "boolean", "Replace an existing workflow."),
                    _body("workflow", _ref("WorkflowPut")),
                ],
                _ok(_ref("Workflow")),
            ),
            "delete": _op(tag, "Delete a workflow", [_ns(), name], _ok(_ref("WorkflowDeleted"))),
            "post": _op(
                tag,
                "Run a workflow (body: its input)",
                [
                    _ns(),
                    name,
                    _query("blocking", "boolean", "Wait for the run."),
                    _query("result", "boolean", "Answer only the result."),
                    _query("timeout", "integer", "Wait at most (ms).", minimum=0),
                    _query("policy", "string", "late, early-max, ..., fixed:OPT, plan:..."),
                    _body("input", {"type": "object"}, required=False),
                ],
                {
                    **_ok({}, "The run record (or, with result=true, its result)"),
                    **_ok(_ref("WorkflowRun"), "Running: its id", "202"),
                    **_ok({}, "The run failed", "502"),
                },
            ),
        },
        "/api/v1/namespaces/{namespace}/workflow-runs": {
            "get": _op(
                tag,
                "List runs",
                [_ns(), _query("name", "string", "Of this workflow."), *PAGING],
                _ok(_array("WorkflowRunBrief")),
            )
        },
        "/api/v1/namespaces/{namespace}/workflow-runs/{runId}": {
            "get": _op(tag, "Get a run", [_ns(), _name("runId")], _ok(_ref("WorkflowRun")))
        },
        wf + "/hints": {
            "get": _op("Hints", "Get the hints", [_ns(), name], _ok(_ref("Hints"))),
            "put": _op(
                "Hints",
                "Set the hints (400 with X-Tango-Diagnostics when they are not valid)",
                [_ns(), name, _body("hints", _ref("HintsPut"))],
                _ok(_ref("Hints")),
            ),
        },
        wf + "/profile": {
            "get": _op(
                "Hints",
                "Profiling progress and profiles",
                [_ns(), name],
                _ok(_ref("ProfileStatus")),
            ),
            "post": _op(
                "Hints",
                "Start profiling",
                [_ns(), name, _body("request", _ref("ProfileRequest"))],
                _ok(_ref("ProfileJob"), "Started", "202"),
            ),
        },
        wf + "/synthesize": {
            "post": _op(
                "Hints",
                "Synthesize hints from the profiles",
                [_ns(), name, _body("request", _ref("SynthesisRequest"), required=False)],
                _ok(_ref("Synthesis")),
            )
        },
        wf + "/simulate": {
            "post": _op(
                tag,
                "What-if simulation of policies on the workflow's profiles (janus_sim)",
                [_ns(), name, _body("request", _ref("SimulationRequest"), required=False)],
                _ok(_ref("Simulation")),
            )
        },
        wf + "/report": {
            "get": _op(
                tag, "SLO attainment and cost by policy", [_ns(), name], _ok(_ref("WorkflowReport"))
            )
        },
    }


# What the controller accepts in a path: OpenWhisk's entity-name rule (ASCII), 32-hex ids.
NAME_SCHEMA = {
    "pattern": "^([A-Za-z0-9_]|[A-Za-z0-9_][A-Za-z0-9_@ .-]*[A-Za-z0-9_@.-]+)$",
    "maxLength": 256,
}
PATH_SCHEMAS = {
    "namespace": {"x-example": "_"},
    "activationid": {"pattern": "^[0-9a-f]{32}$"},
    **{
        name: NAME_SCHEMA
        for name in ("actionName", "packageName", "triggerName", "ruleName", "workflowName")
    },
}


def _constrain_path_parameters(doc: dict) -> None:
    """Say in the document what the controller checks in path parameters (the web-action path
    is left as it is: its last segment carries the extension)."""
    for path, ops in doc["paths"].items():
        if path.startswith("/api/v1/web/"):
            continue
        for key, op in ops.items():
            params = op if key == "parameters" else op.get("parameters", [])
            for param in params:
                if param.get("in") == "path" and param.get("name") in PATH_SCHEMAS:
                    param.update(PATH_SCHEMAS[param["name"]])


def _with_errors(operation: dict) -> dict:
    responses = operation.setdefault("responses", {})
    for code, description in ERRORS.items():
        responses.setdefault(code, _error(description))
    return operation


@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document (built once; callers must not change it)."""
    base = json.loads(OPENWHISK.read_text())
    doc = copy.deepcopy(base)
    doc["info"] = {
        "title": "Tango REST API",
        "description": "OpenWhisk's REST API as Tango serves it, plus workflows, hints and admin.",
        "version": "1.0.0",
    }
    doc["basePath"] = "/"
    doc["paths"] = {f"/api/v1{path}": ops for path, ops in base["paths"].items()}
    doc["paths"].update(_tango_paths())
    doc["definitions"].update(DEFINITIONS)
    # OpenWhisk's document lists 0..2, but its controller stores 3 for a whisk internal error
    # (the invoker or the platform failed), and so does Tango.
    doc["definitions"]["Activation"]["properties"]["statusCode"]["enum"] = [0, 1, 2, 3]
    doc["tags"] = [*base["tags"], *({"name": t} for t in TANGO_TAGS)]
    size = [
        _query("cpu", "number", "Bind this many cores for this activation (Tango).", minimum=0),
        _query(
            "memory",
            "integer",
            "Bind this much memory (MB) for this activation (Tango).",
            minimum=64,
        ),
    ]
    for path in ("{actionName}", "{packageName}/{actionName}"):
        invoke = doc["paths"][f"/api/v1/namespaces/{{namespace}}/actions/{path}"]["post"]
        invoke["parameters"] = [*invoke["parameters"], *size]
    _constrain_path_parameters(doc)
    public: dict = {"security": []}
    for path in ("/", "/api/v1", PATH, "/ping", "/invokers"):
        doc["paths"][path]["get"].update(public)
    for path, ops in doc["paths"].items():
        for method, operation in ops.items():
            if method != "parameters" and not path.startswith("/api/v1/web/"):
                _with_errors(operation)
    return doc
