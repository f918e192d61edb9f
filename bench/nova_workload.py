"""Seeded GUI-agent workloads for the Nova benchmark (`bench/nova_bench.py`).

A request is a screenshot (phone 1080x2400 or desktop 1920x1080, scaled by the preset's
preprocessing pixel limits), a 30-100-token instruction and a 30-80-token answer. Arrivals are
Poisson at a fraction of the runtime's capacity, or a bursty renewal process whose
inter-arrival gaps have coefficient of variation >= 3 (gamma gaps with shape 1/cv^2: long quiet
spells, then many requests almost at once). The same seed gives the same sequence, so every
policy serves identical requests at identical times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SCREENS = {"phone": (1080, 2400), "desktop": (1920, 1080)}
PROMPT_TOKENS = (30, 100)
OUTPUT_TOKENS = (30, 80)


@dataclass(frozen=True)
class WorkItem:
    """One request of a workload: when it arrives (s from the start) and what it carries."""

    at_s: float
    screen: str  # key of SCREENS
    prompt_len: int
    output_len: int
    seed: int  # prompt token ids are drawn from this
    deadline_s: float | None = None  # budget from arrival (None: no deadline)
    tight: bool = False  # a tight-deadline request of a mixed-deadline workload


def poisson_gaps(n: int, rate: float, rng: random.Random) -> list[float]:
    return [rng.expovariate(rate) for _ in range(n)]


def bursty_gaps(
    n: int, rate: float, cv: float, rng: random.Random, tries: int = 1000
) -> list[float]:
    """Gamma gaps (shape 1/cv^2) rescaled to mean exactly 1/rate, whose *realised* coefficient of
    variation is at least `cv`: a short sample of a heavy-tailed process usually shows less
    variation than its law, so draws are repeated (seeded, so still reproducible) until it does."""
    if cv < 1:
        raise ValueError(f"bursty workloads need cv >= 1, got {cv}")
    shape = 1.0 / cv**2
    for _ in range(tries):
        gaps = [rng.gammavariate(shape, 1.0 / shape) for _ in range(n - 1)]
        if _cv(gaps) >= cv:
            mean = sum(gaps) / len(gaps)
            return [0.0] + [g / (mean * rate) for g in gaps]
    raise ValueError(
        f"no draw of {n} gamma gaps reached cv {cv} in {tries} tries; use more requests"
    )


def _cv(gaps: list[float]) -> float:
    mean = sum(gaps) / len(gaps)
    return (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5 / mean


def make_workload(
    n: int,
    rate: float,
    process: str = "poisson",
    cv: float = 3.0,
    seed: int = 0,
    phone_share: float = 0.5,
) -> list[WorkItem]:
    """`n` requests arriving at `rate` req/s on average by `process` ('poisson' or 'bursty')."""
    if rate <= 0:
        raise ValueError(f"arrival rate must be positive, got {rate}")
    rng = random.Random(seed)
    if process == "poisson":
        gaps = poisson_gaps(n, rate, rng)
    elif process == "bursty":
        gaps = bursty_gaps(n, rate, cv, rng)
    else:
        raise ValueError(f"unknown arrival process {process!r}; use 'poisson' or 'bursty'")
    items, t = [], 0.0
    for i, gap in enumerate(gaps):
        t += gap if i else 0.0  # the first request arrives at 0
        items.append(
            WorkItem(
                at_s=t,
                screen="phone" if rng.random() < phone_share else "desktop",
                prompt_len=rng.randint(*PROMPT_TOKENS),
                output_len=rng.randint(*OUTPUT_TOKENS),
                seed=rng.randrange(2**31),
            )
        )
    return items


def with_deadlines(
    items: list[WorkItem],
    solo_s,
    tight: float = 2.0,
    loose: float = 10.0,
    tight_share: float = 0.5,
    seed: int = 0,
) -> list[WorkItem]:
    """The mixed-deadline workload: each request gets a deadline of `tight` × its solo service
    time (`solo_s(item)`: vision + prefill + decode alone on the whole GPU, seconds) with
    probability `tight_share`, else `loose` × it (an agent's background step). Seeded."""
    import dataclasses

    rng = random.Random(seed)
    out = []
    for it in items:
        is_tight = rng.random() < tight_share
        budget = (tight if is_tight else loose) * solo_s(it)
        out.append(dataclasses.replace(it, deadline_s=budget, tight=is_tight))
    return out


def gap_cv(items: list[WorkItem]) -> float:
    """Coefficient of variation of the inter-arrival gaps (1 for Poisson, >= 3 for bursty)."""
    return _cv([b.at_s - a.at_s for a, b in zip(items, items[1:], strict=False)])


def prompt_ids(item: WorkItem, config) -> list[int]:
    """Instruction token ids: the image placeholder pair, then random ordinary tokens."""
    rng = random.Random(item.seed)
    top = min(config.text.vocab_size, min(config.special_ids().values()))
    return [config.vision_start_id, config.vision_end_id] + [
        rng.randrange(top) for _ in range(item.prompt_len)
    ]


def screenshot(screen: str, seed: int = 0):
    """A synthetic screenshot of that screen size (content does not change the compute cost)."""
    import numpy as np
    from PIL import Image

    w, h = SCREENS[screen]
    rng = np.random.default_rng(seed)
    img: np.ndarray = np.full((h, w, 3), 235, dtype=np.uint8)
    for _ in range(40):  # a few flat "widgets" so it compresses like a UI, not noise
        x, y = rng.integers(0, w - 100), rng.integers(0, h - 60)
        img[y : y + rng.integers(20, 60), x : x + rng.integers(60, 300)] = rng.integers(0, 255, 3)
    return Image.fromarray(img)
