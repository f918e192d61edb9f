"""The live state of one workflow function about to run, as the adapter sees it.

Built by the workflow engine (controller/workflow_engine.py) per activation; read by the
policies and by compiled hints, which access its slots directly (no dict lookups by name).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class NodeState:
    workflow: str = ""
    function: str = ""  # workflow node id (what `function NAME` in hints names)
    action: str = ""  # action path, e.g. guest/resize
    slo_ms: float = 0.0
    remaining_ms: float = 0.0  # SLO budget left: slo - elapsed
    elapsed_ms: float = 0.0  # since the workflow request arrived
    input_bytes: int = 0  # JSON size of this activation's params
    input: dict[str, float] = field(default_factory=dict)  # numeric input fields: {"width": 1920.0}
    upstream: dict[str, float] = field(default_factory=dict)  # finished node id -> duration ms
    stats: dict[str, dict[str, float]] | None = (
        None  # live statistics: {node id: {"p50"|"p95"|"p99"|"mean": ms}}
    )
