"""Deadlines in the Nova scheduler (`scheduler/deadlines.py`, `policies.Nova`): least-slack order,
decode priority by slack, early admission; the do-no-harm guard; the simulator's attainment."""

import dataclasses

import pytest

from runtimes.vlm.scheduler import make_policy
from runtimes.vlm.scheduler.deadlines import ServicePredictor, admit, least_slack_first
from runtimes.vlm.scheduler.plan import DECODE, DecodeView, RequestView, SchedulerState
from runtimes.vlm.scheduler.simulate import Arrival, simulate
from runtimes.vlm.scheduler.tables import default_tables


def req(i, deadline=None, patches=5184, tokens=1360, new=50, arrival=None):
    return RequestView(
        f"r{i}", float(i if arrival is None else arrival), patches, tokens, new, 0, deadline
    )


@pytest.fixture(scope="module")
def tables():
    return default_tables()


def test_least_slack_first_orders_by_deadline_and_keeps_arrival_order_without_one(tables):
    p = ServicePredictor(tables)
    queue = (req(0), req(1, deadline=90_000), req(2), req(3, deadline=5_000))
    assert [r.rid for r in least_slack_first(queue, 0.0, p)] == ["r3", "r1", "r0", "r2"]


def test_slack_counts_the_requests_own_service_not_only_its_deadline(tables):
    p = ServicePredictor(tables)
    # Same deadline; the one with more tokens to generate has less slack and goes first.
    short, long = req(0, 10_000, new=5), req(1, 10_000, new=200)
    assert [r.rid for r in least_slack_first((short, long), 0.0, p)] == ["r1", "r0"]


def test_nova_serves_the_most_urgent_request_first_and_fcfs_without_deadlines(tables):
    p = make_policy("nova", tables)
    urgent = SchedulerState(waiting=(req(0, deadline=60_000), req(1, deadline=3_000)))
    assert p.decide(urgent).vision == ("r1",)
    p2 = make_policy("nova", tables)
    assert p2.decide(SchedulerState(waiting=(req(0), req(1)))).vision == ("r0",)
    fcfs = make_policy("nova", tables, deadlines=False)
    assert fcfs.decide(urgent).vision == ("r0",)


def test_admission_refuses_a_request_that_cannot_meet_its_deadline_and_says_why(tables):
    p = ServicePredictor(tables)
    empty = SchedulerState(now_ms=1000.0)
    own = admit(empty, req(9, deadline=1e9), p).predicted_ms  # alone on an idle GPU
    assert admit(empty, req(9, deadline=1000.0 + 1.2 * own), p).admitted
    verdict = admit(empty, req(9, deadline=1000.0 + own / 2), p)
    assert not verdict.admitted and "cannot meet its deadline" in verdict.reason
    assert verdict.predicted_ms > verdict.budget_ms
    # The same budget behind a queue of ten requests that are more urgent: refused.
    queue = tuple(req(i, deadline=1000.0 + own) for i in range(10))
    busy = SchedulerState(now_ms=1000.0, waiting=queue)
    late = admit(busy, req(99, deadline=1000.0 + 3 * own), p)
    assert not late.admitted and "behind 10 queued" in late.reason
    assert admit(busy, req(99), p).admitted  # no deadline: always admitted


def test_nova_admit_uses_its_margin(tables):
    p = make_policy("nova", tables, admit_margin=1.0)
    own = p.admit(SchedulerState(), req(0, deadline=1e9)).predicted_ms
    r = req(0, deadline=0.8 * own)
    assert not p.admit(SchedulerState(), r).admitted
    assert make_policy("nova", tables, admit_margin=2.0).admit(SchedulerState(), r).admitted
    assert make_policy("nova", tables, deadlines=False).admit(SchedulerState(), r).admitted


def test_decode_at_risk_holds_compute_until_decode_is_safe(tables):
    p = make_policy("nova", tables)
    step_alone = p.predictor.step_ms(1, busy=False)
    step_beside = p.predictor.step_ms(1, busy=True)
    assert step_beside > step_alone
    # 20 tokens left: meets its deadline only at the step alone.
    budget = 20 * (step_alone + step_beside) / 2
    dec = (DecodeView("d0", 0, 20, 0.0, budget),)
    loose = SchedulerState(waiting=(req(1, deadline=600_000),), decoding=dec)
    plan = p.decide(loose)
    assert plan.vision == () and plan.decode == (0,) and plan.sm_split == {DECODE: 132}
    assert "compute held" in plan.reason
    # A queued request more urgent than the decode: compute goes ahead.
    urgent = dataclasses.replace(loose, waiting=(req(1, deadline=1.0),))
    assert p.decide(urgent).vision == ("r1",)
    # Without deadlines nothing is held.
    free = SchedulerState(waiting=(req(1),), decoding=(DecodeView("d0", 0, 20, 0.0),))
    assert make_policy("nova", tables).decide(free).vision == ("r1",)


def test_decode_batch_is_filled_least_slack_first(tables):
    p = make_policy("nova", tables, max_batch=2)
    dec = (
        DecodeView("a", 0, 10, 0.0, None),
        DecodeView("b", 1, 10, 1.0, 100_000.0),
        DecodeView("c", 2, 10, 2.0, 50_000.0),
    )
    assert p.decode_batch(SchedulerState(decoding=dec)) == (2, 1)


def test_guard_keeps_plain_sharing_unless_the_model_promises_a_margin(tables):
    from runtimes.vlm.scheduler.tables import StageTables

    # Plain sharing measured slow: the model prefers a partition.
    t = StageTables(
        tables.total_sms,
        tables.solo,
        tables.corun,
        {"decode|vision": 3.0, "vision|decode": 3.0, "decode|prefill": 3.0, "prefill|decode": 3.0},
    )
    state = SchedulerState(
        waiting=(req(0),),
        decoding=tuple(DecodeView(f"d{i}", i, 20) for i in range(4)),
        arrival_rate=5.0,
    )
    off = make_policy("nova", t, guard=0.0, pace=False)
    chosen = off.decide(state)
    on = make_policy("nova", t, guard=0.99, pace=False)  # nothing is 99 % better
    guarded = on.decide(state)
    assert guarded.sm_split is None and "guard: plain sharing" in guarded.reason
    assert on.last["guard_plain_ms"] > 0
    assert chosen.sm_split is not None  # without the guard the model picks a partition here


def _arrivals(n=30, gap=20.0, deadline_factor=None):
    out = []
    for i in range(n):
        t = i * gap
        d = None if deadline_factor is None else t + deadline_factor * (1 + i % 2) * 1000
        out.append(Arrival(t, 5184, 1360, 40, d))
    return out


def test_simulator_counts_met_missed_refused_and_expired_deadlines(tables):
    res = simulate(make_policy("multi-stream", tables), tables, _arrivals(deadline_factor=0.5))
    d = res.summary()["deadlines"]
    assert d["requests"] == 30 and d["refused"] == 0  # multi-stream admits everything
    assert d["met"] + d["missed"] + d["expired"] == 30
    assert d["expired"] > 0 and d["attainment"] == d["met"] / 30
    nova = simulate(make_policy("nova", tables), tables, _arrivals(deadline_factor=0.5))
    dn = nova.summary()["deadlines"]
    assert dn["refused"] > 0  # early admission refuses what cannot make it
    assert dn["met"] + dn["missed"] + dn["refused"] + dn["expired"] == 30
    assert "deadlines" not in simulate(make_policy("nova", tables), tables, _arrivals()).summary()


def test_simulator_reports_stage_times_to_a_learning_policy(tables):
    slow = default_tables()
    slow.solo = {
        k: dataclasses.replace(g, ms=tuple(tuple(2 * v for v in row) for row in g.ms))
        for k, g in tables.solo.items()
    }
    p = make_policy("nova", tables)
    simulate(p, slow, _arrivals(12))
    cal = p.tables.corrections()
    assert cal and any(v["samples"] >= 5 for v in cal.values())
    assert cal["vision|solo"]["ratio"] == pytest.approx(2.0, rel=0.05)


def test_nova_starts_calibrated_from_earlier_corrections(tables):
    """`corrections` (what /metrics showed on this card) apply from the first decision."""
    seen = {
        "vision|partition": {"ratio": 2.0, "samples": 9},
        "decode|shared": {"ratio": 1.3, "samples": 2},
    }
    p = make_policy("nova", tables, corrections=seen)
    assert p.tables.interp("vision", 100, 5184, DECODE) == pytest.approx(
        2.0 * tables.interp("vision", 100, 5184, DECODE)
    )
    # Too few samples to apply, as when learnt live; learning goes on from there.
    assert p.tables.interp("decode", None, 8, "vision") == tables.interp(
        "decode", None, 8, "vision"
    )
    assert p.tables.learning and p.tables.corrections()["decode|shared"]["samples"] == 2
