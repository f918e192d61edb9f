"""The activation record a fake invoker answers ``POST /invoke`` with (the tests' stand-in for
``invoker.activation``): one shape for every fake, built from the controller's message."""

from __future__ import annotations

import time
from typing import Any

from common.activation_status import STATUS_NAMES


def activation_record(
    body: dict,
    result: Any,
    status_code: int = 0,
    duration: int = 5,
    annotations: list[dict] | None = None,
    logs: list[str] | None = None,
) -> dict:
    """The final record of the activation the controller sent in ``body``: ``result`` with
    ``status_code`` (OpenWhisk's 0-3), ending now and lasting ``duration`` ms. ``annotations``
    default to the ``path``, ``waitTime`` and ``size`` an invoker always writes."""
    start = int(time.time() * 1000)
    a = body["action"]
    if annotations is None:
        annotations = [
            {"key": "path", "value": a["path"]},
            {"key": "waitTime", "value": 1},
            {"key": "size", "value": body.get("size")},
        ]
    return {
        "namespace": body["namespace"],
        "name": a["name"],
        "version": a["version"],
        "subject": body["subject"],
        "activationId": body["activationId"],
        "start": start,
        "end": start + duration,
        "duration": duration,
        "statusCode": status_code,
        "response": {
            "status": STATUS_NAMES[status_code],
            "statusCode": status_code,
            "success": status_code == 0,
            "result": result,
        },
        "logs": logs or [],
        "annotations": annotations,
        "publish": False,
    }
