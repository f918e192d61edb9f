"""The runtime manifest: which action kinds exist and which image runs each (the invoker keeps
the kind → image map; the controller only validates and normalises kinds)."""

from __future__ import annotations

from typing import Any

KINDS: dict[str, dict[str, Any]] = {
    "python:3.11": {
        "image": "tango/action-python-v3.11:latest",
        "default": True,
        "family": "python",
    },
    "vlm": {"image": "tango/action-vlm:cpu", "default": False, "family": "vlm"},
}
ALIASES = {"python:3": "python:3.11", "python:default": "python:3.11", "python": "python:3.11"}
SPECIAL_KINDS = ("blackbox", "sequence")


def normalise_kind(kind: str) -> str | None:
    """The canonical kind name, or None if unknown."""
    kind = ALIASES.get(kind, kind)
    if kind in KINDS or kind in SPECIAL_KINDS:
        return kind
    return None


def manifest() -> dict:
    """The ``runtimes`` object of ``GET /`` (OpenWhisk's runtime manifest shape)."""
    families: dict[str, list] = {}
    for name, spec in KINDS.items():
        families.setdefault(spec["family"], []).append(
            {
                "kind": name,
                "image": spec["image"],
                "default": spec["default"],
                "deprecated": False,
                "attached": {"attachmentName": "codefile", "attachmentType": "text/plain"},
            }
        )
    return families
