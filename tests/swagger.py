"""Validate response bodies against Tango's own API description (``controller.openapi``, served
at ``/api/v1/api-docs``): by definition name, or by the operation a request went to."""

from __future__ import annotations

import re

import jsonschema

from controller.openapi import document


def definitions() -> dict:
    return document()["definitions"]


def validate(body, definition: str, array: bool = False) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` matches ``#/definitions/<definition>``
    (or an array of it)."""
    ref = {"$ref": f"#/definitions/{definition}"}
    _check(body, {"type": "array", "items": ref} if array else ref)


def operation(method: str, path: str) -> tuple[str, dict]:
    """The documented operation a request path goes to: ``(path template, operation)``;
    KeyError when the document has none (literal segments win over ``{parameters}``)."""
    path = path.split("?", 1)[0]
    candidates = []
    for template, ops in document()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in ops:
            candidates.append((template.count("{"), template, ops[method.lower()]))
    if not candidates:
        raise KeyError(f"{method} {path} is not in the API document")
    _, template, op = min(candidates, key=lambda c: c[0])
    return template, op


def validate_response(method: str, path: str, status: int, body) -> str:
    """Raise unless the document lists ``status`` for the operation and ``body`` matches that
    response's schema; returns the path template it matched."""
    template, op = operation(method, path)
    responses = op["responses"]
    response = responses.get(str(status)) or responses.get("default")
    if response is None:
        raise AssertionError(f"{method} {template}: status {status} is not documented")
    if "$ref" in response:
        response = document()["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response.get("schema")
    if schema is not None:
        _check(body, schema)
    return template


def _check(body, schema: dict) -> None:
    """Swagger 2.0 schemas are JSON Schema draft 4 (``exclusiveMinimum`` is a boolean)."""
    jsonschema.Draft4Validator({**schema, "definitions": definitions()}).validate(body)
