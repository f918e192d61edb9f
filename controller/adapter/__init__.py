"""The Janus adapter: picks each workflow function's size right before it is dispatched.

The workflow engine builds a `NodeState` per activation and calls `Adapter.decide(state)`; the
adapter asks its policy (late-bound hints, or a baseline) and times the decision. Everything here
is pure: no HTTP, Docker or store access.
"""

from .adapter import POLICIES, POLICY_NAMES, Adapter, is_policy_name, make_sizing_policy
from .decision import Decision
from .model import Observation, Price
from .state import NodeState

__all__ = [
    "Adapter",
    "make_sizing_policy",
    "POLICIES",
    "POLICY_NAMES",
    "is_policy_name",
    "Decision",
    "NodeState",
    "Observation",
    "Price",
]
