"""Sets of real numbers as sorted unions of intervals, for the checker's reachability analysis.

A single-variable condition such as `remaining >= 200ms and remaining < 900ms` is the set of
values for which it holds; a later rule is unreachable when its set lies inside the union of the
sets of earlier rules on the same variable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INF = math.inf


@dataclass(frozen=True)
class Interval:
    lo: float
    lo_closed: bool
    hi: float
    hi_closed: bool

    @property
    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_closed and self.hi_closed))

    def contains(self, other: Interval) -> bool:
        lo_ok = self.lo < other.lo or (
            self.lo == other.lo and (self.lo_closed or not other.lo_closed)
        )
        hi_ok = self.hi > other.hi or (
            self.hi == other.hi and (self.hi_closed or not other.hi_closed)
        )
        return lo_ok and hi_ok


Set = tuple[Interval, ...]
EVERYTHING: Set = (Interval(-INF, False, INF, False),)


def from_comparison(op: str, c: float) -> Set:
    """The set {v | v <op> c}."""
    return {
        "<": (Interval(-INF, False, c, False),),
        "<=": (Interval(-INF, False, c, True),),
        ">": (Interval(c, False, INF, False),),
        ">=": (Interval(c, True, INF, False),),
        "==": (Interval(c, True, c, True),),
        "!=": (Interval(-INF, False, c, False), Interval(c, False, INF, False)),
    }[op]


def _intersect_one(a: Interval, b: Interval) -> Interval:
    if a.lo > b.lo or (a.lo == b.lo and not a.lo_closed):
        lo, lo_closed = a.lo, a.lo_closed
    else:
        lo, lo_closed = b.lo, b.lo_closed
    if a.hi < b.hi or (a.hi == b.hi and not a.hi_closed):
        hi, hi_closed = a.hi, a.hi_closed
    else:
        hi, hi_closed = b.hi, b.hi_closed
    return Interval(lo, lo_closed, hi, hi_closed)


def intersect(a: Set, b: Set) -> Set:
    return union(tuple(_intersect_one(x, y) for x in a for y in b), ())


def union(a: Set, b: Set) -> Set:
    parts = sorted((i for i in a + b if not i.empty), key=lambda i: (i.lo, not i.lo_closed))
    merged: list[Interval] = []
    for i in parts:
        if merged:
            m = merged[-1]
            touching = m.hi > i.lo or (m.hi == i.lo and (m.hi_closed or i.lo_closed))
            if touching:
                if i.hi > m.hi or (i.hi == m.hi and i.hi_closed):
                    merged[-1] = Interval(m.lo, m.lo_closed, i.hi, i.hi_closed)
                continue
        merged.append(i)
    return tuple(merged)


def is_subset(a: Set, b: Set) -> bool:
    b = union(b, ())
    return all(any(j.contains(i) for j in b) for i in a if not i.empty)


def is_empty(a: Set) -> bool:
    return all(i.empty for i in a)
