"""Validate response bodies against OpenWhisk's own API spec (shared/reference/openwhisk-apiv1swagger.json)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema

SPEC = Path(__file__).resolve().parents[2] / "shared" / "reference" / "openwhisk-apiv1swagger.json"


@lru_cache(maxsize=1)
def definitions() -> dict:
    return json.loads(SPEC.read_text())["definitions"]


def validate(body, definition: str, array: bool = False) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` matches ``#/definitions/<definition>``
    (or an array of it)."""
    ref = {"$ref": f"#/definitions/{definition}"}
    schema = {"type": "array", "items": ref} if array else ref
    jsonschema.validate(body, {**schema, "definitions": definitions()})
