"""Synthetic workflows and profiles for the simulator's unit tests (pure data, no platform)."""

from __future__ import annotations

import pytest

from common.sizes import Size
from hint_dsl.profiles import Profiles, Sample
from workflows.definition import load

SMALL = Size(0.5, 512, "small")
MEDIUM = Size(1.0, 1024, "medium")
LARGE = Size(2.0, 2048, "large")
OPTIONS = (SMALL, MEDIUM, LARGE)

CHAIN = """
name: chain
slo: {latency: 1000ms, percentile: 99}
nodes:
  - {id: a, action: chain/a}
  - {id: b, action: chain/b, after: [a]}
"""

FORK = """
name: fork
slo: {latency: 1000ms, percentile: 99}
nodes:
  - {id: a, action: fork/a}
  - {id: b, action: fork/b, after: [a]}
  - {id: c, action: fork/c, after: [a]}
"""


def amdahl(t1: float, s: float, cpu: float) -> float:
    return t1 * (s / min(cpu, 1.0) + (1 - s) / cpu)


def make_profiles(
    workflow,
    t1: dict[str, float],
    serial: float = 0.0,
    runs: int = 1,
    repeats: int = 1,
    options=OPTIONS,
    capacity: float | None = None,
    jitter: float = 0.0,
) -> Profiles:
    """Every node at every option on `runs` inputs (input r has rows=1000*(r+1) and takes
    (r+1) x its node's t1 at one core), exact Amdahl run times (+/- jitter per repeat)."""
    p = Profiles(workflow.name, {o.option: o for o in options}, capacity_cores=capacity)
    for r in range(runs):
        for n in workflow.nodes:
            for o in options:
                for k in range(repeats):
                    wiggle = 1 + jitter * (k - (repeats - 1) / 2)
                    ms = amdahl(t1[n.id] * (r + 1), serial, o.cpu) * wiggle
                    p.add(
                        Sample(
                            n.id,
                            o.option,
                            ms,
                            100 * (r + 1),
                            r,
                            k,
                            None,
                            {"rows": 1000.0 * (r + 1)},
                        )
                    )
    return p


@pytest.fixture
def chain():
    return load(CHAIN)


@pytest.fixture
def fork():
    return load(FORK)
