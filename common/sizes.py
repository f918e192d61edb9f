"""The CPU/memory size bound to one activation; shared by controller, invoker and the adapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Size:
    cpu: float  # cores
    memory: int  # MB
    option: str | None = None  # hint option name, when the size came from one

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"cpu": self.cpu, "memory": self.memory}
        if self.option is not None:
            d["option"] = self.option
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> Size | None:
        if not d:
            return None
        return cls(cpu=float(d["cpu"]), memory=int(d["memory"]), option=d.get("option"))

    def core_seconds(self, duration_ms: float) -> float:
        return self.cpu * duration_ms / 1000.0

    def gb_seconds(self, duration_ms: float) -> float:
        return self.memory / 1024.0 * duration_ms / 1000.0
