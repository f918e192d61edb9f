"""What the adapter returns for one activation: the size and why it was chosen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.sizes import Size


@dataclass(slots=True)
class Decision:
    size: Size
    rule: str  # the hint rule or policy reasoning that chose the size
    at_risk: bool  # no rule fits / budget gone / plan infeasible: the SLO may be missed
    decision_us: float = 0.0  # filled in by Adapter: time spent deciding
    policy: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size.to_json(),
            "rule": self.rule,
            "atRisk": self.at_risk,
            "decisionUs": self.decision_us,
            "policy": self.policy,
        }
