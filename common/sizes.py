"""The CPU/memory size bound to one activation; shared by controller, invoker and the adapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Size:
    cpu: float  # cores
    memory: int  # MB
    option: str | None = None  # hint option name, when the size came from one
    # Node parameters the option sets (hint `option ... with max_tokens 16`): a vlm node trades
    # quality for time. The workflow engine merges them into the activation's parameters.
    params: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"cpu": self.cpu, "memory": self.memory}
        if self.option is not None:
            d["option"] = self.option
        if self.params:
            d["params"] = dict(self.params)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> Size | None:
        if not d:
            return None
        params = tuple(sorted((str(k), int(v)) for k, v in (d.get("params") or {}).items()))
        return cls(float(d["cpu"]), int(d["memory"]), d.get("option"), params)

    def core_seconds(self, duration_ms: float) -> float:
        return self.cpu * duration_ms / 1000.0

    def gb_seconds(self, duration_ms: float) -> float:
        return self.memory / 1024.0 * duration_ms / 1000.0
