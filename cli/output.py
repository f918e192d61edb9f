"""How the ``tango`` CLI prints: wsk-style ``ok:`` lines, 4-space pretty JSON, aligned tables.

The ``format_*``/``table`` functions are pure (data in, text out) so the command modules and
tests share one rendering; ``emit``/``ok`` write to the current ``sys.stdout``. With the global
``--json`` flag the commands print the server's JSON instead of the human form.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

STATUS_NAMES = {0: "success", 1: "application error", 2: "developer error", 3: "internal error"}


def emit(text: str = "") -> None:
    print(text, file=sys.stdout)


def ok(message: str) -> None:
    emit(f"ok: {message}")


def note(text: str) -> None:
    """A line for people, kept off stdout so stdout stays parseable."""
    print(text, file=sys.stderr)


def pretty(obj: Any) -> str:
    """JSON as wsk prints it: 4-space indent, keys in server order, non-ASCII kept."""
    return json.dumps(obj, indent=4, ensure_ascii=False)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    cells = [list(map(str, headers))] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=False)] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def annotation(entity: dict, key: str, default: Any = None) -> Any:
    for item in entity.get("annotations") or []:
        if item.get("key") == key:
            return item.get("value")
    return default


def datetime_text(epoch_ms: int | float | None) -> str:
    if epoch_ms is None:
        return "-"
    return datetime.fromtimestamp(epoch_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def ms_text(ms: int | float | None) -> str:
    if ms is None:
        return "-"
    if isinstance(ms, float):  # sub-10 ms latencies keep a decimal so 0.4 ms does not read as 0
        return f"{ms:.1f}ms" if ms < 10 else f"{ms:.0f}ms"
    return f"{ms}ms"


def status_text(status_code: int | None) -> str:
    if status_code is None:
        return "unknown"
    return STATUS_NAMES.get(status_code, str(status_code))


def start_kind(record: dict) -> str:
    """``cold`` when the record carries ``initTime`` (OpenWhisk sets it only on a cold start)."""
    return "cold" if annotation(record, "initTime") is not None else "warm"


def format_activation_table(records: Iterable[dict]) -> str:
    """``tango activation list``: wsk's columns, Entity as ``ns/name:version``; an activation
    still running (its ``end`` is 0) says so instead of a start kind, duration and status."""
    rows = [
        (
            datetime_text(r.get("start")),
            r.get("activationId", ""),
            annotation(r, "kind", "unknown"),
            "-" if r.get("end") == 0 else start_kind(r),
            "-" if r.get("end") == 0 else ms_text(r.get("duration")),
            "running" if r.get("end") == 0 else status_text(r.get("statusCode")),
            f"{r.get('namespace', '')}/{r.get('name', '')}:{r.get('version', '')}",
        )
        for r in records
    ]
    return table(
        ["Datetime", "Activation ID", "Kind", "Start", "Duration", "Status", "Entity"], rows
    )


def format_entity_list(collection: str, entities: Iterable[dict]) -> str:
    """wsk's list block: the collection name, then ``/ns/name  private|shared  kind``."""
    lines = [collection]
    for e in entities:
        fqn = f"/{e.get('namespace', '')}/{e.get('name', '')}"
        publish = "shared" if e.get("publish") else "private"
        kind = annotation(e, "exec") or (e.get("exec") or {}).get("kind") or ""
        lines.append(f"{fqn:<70} {publish} {kind}".rstrip())
    return "\n".join(lines)


def entity_fqn(entity: dict) -> str:
    """``/namespace/name`` of an entity as the API returns it."""
    return f"/{entity.get('namespace', '')}/{entity.get('name', '')}"


def parameter_names(entity: dict) -> str:
    """The summaries' ``(parameters: ...)`` text: the bound names (values hidden)."""
    return ", ".join(p.get("key", "") for p in entity.get("parameters") or []) or "none defined"


def format_action_summary(action: dict) -> str:
    """``tango action get -s``: name, kind and the parameter names (bound values hidden)."""
    kind = (action.get("exec") or {}).get("kind") or annotation(action, "exec") or "unknown"
    return f"action {entity_fqn(action)} ({kind})\n   (parameters: {parameter_names(action)})"


def format_activation_summary(record: dict) -> str:
    """``tango activation get -s``: one status line, then the result."""
    fqn = f"/{record.get('namespace', '')}/{record.get('name', '')}"
    response = record.get("response") or {}
    status = response.get("status") or status_text(record.get("statusCode"))
    head = f"activation result for '{fqn}' ({status} at {datetime_text(record.get('start'))})"
    return f"{head}\n{pretty(response.get('result', {}))}"
