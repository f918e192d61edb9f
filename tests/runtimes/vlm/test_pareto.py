"""Pareto frontier, SM_op knee and SM_min on constructed and default stage tables."""

import pytest

from runtimes.vlm.scheduler.pareto import (
    ParetoPoint,
    build_frontier,
    candidate_splits,
    knee,
    non_dominated,
)
from runtimes.vlm.scheduler.tables import Grid, StageTables, default_tables

SMS = (8, 16, 24, 32, 40, 48, 56)  # a 64-SM toy GPU


def toy_tables(decode_ms, vision_ms, prefill_ms=None):
    """Tables where the decode / vision times per SM count are given exactly (one size each)."""

    def grid(ms):
        return Grid(SMS, (1,), tuple((m,) for m in ms))

    prefill_ms = prefill_ms or vision_ms
    return StageTables(
        64, solo={"decode": grid(decode_ms), "vision": grid(vision_ms), "prefill": grid(prefill_ms)}
    )


def test_candidate_splits_leave_the_compute_stage_a_partition():
    assert candidate_splits(64) == [8, 16, 24, 32, 40, 48, 56]
    assert candidate_splits(132) == list(range(8, 125, 8))


def test_dominated_split_is_dropped_from_frontier():
    # decode at 32 SMs is slower than at 24 (noise) and its compute side is slower too: dominated.
    decode = (10.0, 6.0, 5.0, 5.5, 4.8, 4.7, 4.65)
    vision = (400.0, 300.0, 200.0, 150.0, 120.0, 100.0, 90.0)  # indexed by compute SMs
    t = toy_tables(decode, vision)
    f = build_frontier(t, "vision", 1, decode_batch=1)
    assert 32 not in [p.decode_sms for p in f.frontier]
    assert [p.decode_sms for p in f.points] == candidate_splits(64)
    for p in f.frontier:
        assert not any(q.dominates(p) for q in f.points)


def test_knee_is_where_more_decode_sms_stop_helping():
    decode = (20.0, 10.0, 7.0, 6.0, 5.9, 5.85, 5.8)  # flat from 32 SMs on
    vision = (400.0, 300.0, 200.0, 150.0, 120.0, 100.0, 90.0)
    f = build_frontier(toy_tables(decode, vision), "vision", 1, decode_batch=1, epsilon=0.05)
    assert f.sm_op == 32
    # a stricter epsilon pushes the operating point to more decode SMs
    assert (
        build_frontier(toy_tables(decode, vision), "vision", 1, decode_batch=1, epsilon=0.005).sm_op
        > 32
    )


def test_sm_min_is_smallest_share_within_decode_slowdown_cap():
    decode = (20.0, 10.0, 7.0, 6.0, 5.9, 5.85, 5.8)
    vision = (400.0, 300.0, 200.0, 150.0, 120.0, 100.0, 90.0)
    t = toy_tables(decode, vision)
    # decode alone on the whole GPU (64 SMs, clamped to the table's 56) = 5.8 ms
    assert build_frontier(t, "vision", 1, decode_batch=1, max_decode_slowdown=2.0).sm_min == 16
    assert build_frontier(t, "vision", 1, decode_batch=1, max_decode_slowdown=4.0).sm_min == 8
    # no split is fast enough: SM_min falls back to the operating point
    f = build_frontier(t, "vision", 1, decode_batch=1, max_decode_slowdown=0.5)
    assert f.sm_min == f.sm_op


def test_knee_of_monotone_points():
    pts = [
        ParetoPoint(s, 64 - s, t, 100.0 + s)
        for s, t in ((8, 10.0), (16, 5.0), (24, 4.9), (32, 4.85))
    ]
    assert non_dominated(pts) == pts
    assert knee(pts, 0.05) == 16


def test_default_h100_tables_give_operating_points_between_min_and_half_gpu():
    t = default_tables()
    for co, size in (("vision", 5184), ("prefill", 1362)):
        f = build_frontier(t, co, size)
        assert 8 <= f.sm_min < f.sm_op <= 66
        op = f.point(f.sm_op)
        assert op.t_dec_ms <= 1.35 * t.interp("decode", 132, 8)  # co-run decode near decode alone
    with pytest.raises(KeyError):
        build_frontier(t, "vision", 5184).point(12)
