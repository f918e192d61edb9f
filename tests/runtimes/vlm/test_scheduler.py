"""Each policy's Plan on constructed scheduler states."""

import pytest

from runtimes.vlm.scheduler import (
    DecodeView,
    RequestView,
    SchedulerState,
    default_tables,
    make_policy,
)
from runtimes.vlm.scheduler.pareto import build_frontier
from runtimes.vlm.scheduler.queueing import LatencyModel, RequestShape, compute_ms, utilisation


def req(i, patches=5184, tokens=1360, new=50, prefilled=0):
    return RequestView(f"r{i}", float(i), patches, tokens, new, prefilled)


def decoding(n):
    return tuple(DecodeView(f"d{i}", i, 20) for i in range(n))


@pytest.fixture(scope="module")
def tables():
    return default_tables()


def test_sequential_runs_one_request_at_a_time(tables):
    p = make_policy("sequential", tables)
    busy = SchedulerState(waiting=(req(1), req(2)), decoding=decoding(1))
    plan = p.decide(busy)
    assert plan.decode == (0,) and not plan.vision and plan.prefill is None and not plan.pipelined
    plan = p.decide(SchedulerState(waiting=(req(1), req(2))))
    assert plan.vision == ("r1",) and not plan.decode and plan.prefill is None
    plan = p.decide(SchedulerState(ready=(req(1),), waiting=(req(2),)))
    assert plan.prefill.rid == "r1" and plan.prefill.final and not plan.vision and not plan.decode


def test_pf_limit_respects_its_cap(tables):
    p = make_policy("pf-limit", tables, max_prefills=2)
    under = SchedulerState(
        ready=(req(1),), waiting=(req(2),), decoding=decoding(3), prefills_since_decode=1
    )
    plan = p.decide(under)
    assert plan.prefill.rid == "r1" and not plan.decode
    at_cap = SchedulerState(
        ready=(req(1),), waiting=(req(2),), decoding=decoding(3), prefills_since_decode=2
    )
    plan = p.decide(at_cap)
    assert plan.decode == (0, 1, 2) and plan.prefill is None and not plan.vision
    no_slot = SchedulerState(ready=(req(1),), decoding=decoding(3), free_slots=0)
    assert p.decide(no_slot).prefill is None
    with pytest.raises(ValueError, match="max_prefills"):
        make_policy("pf-limit", tables, max_prefills=0)


def test_chunk_never_exceeds_the_token_budget(tables):
    p = make_policy("chunk", tables)
    for n_dec in (0, 1, 8, 16):
        for prefilled in (0, 1300):
            state = SchedulerState(ready=(req(1, prefilled=prefilled),), decoding=decoding(n_dec))
            plan = p.decide(state)
            assert plan.prefill.tokens + len(plan.decode) <= 128
            assert plan.prefill.start == prefilled
            assert plan.decode == tuple(range(n_dec))
            assert plan.prefill.final == (prefilled + plan.prefill.tokens == 1360)
    # vision cannot be chunked: it runs whole, without decode
    plan = p.decide(SchedulerState(waiting=(req(2),), decoding=decoding(4)))
    assert plan.vision == ("r2",) and not plan.decode


def test_multi_stream_pipelines_without_partitioning(tables):
    p = make_policy("multi-stream", tables)
    plan = p.decide(SchedulerState(waiting=(req(1),), decoding=decoding(2)))
    assert plan.pipelined and plan.sm_split is None
    assert plan.vision == ("r1",) and plan.decode == (0, 1)
    assert p.splits() == []


def test_continuous_batching_caps_the_decode_batch(tables):
    for name in ("multi-stream", "nova", "pf-limit"):
        plan = make_policy(name, tables, max_batch=4).decide(SchedulerState(decoding=decoding(10)))
        assert plan.decode == (0, 1, 2, 3)


def test_nova_static_keeps_its_split(tables):
    p = make_policy("nova-static", tables, decode_sms=32)
    for q in (0, 3, 30):
        state = SchedulerState(
            waiting=tuple(req(i) for i in range(q + 1)), decoding=decoding(4), arrival_rate=20
        )
        assert p.decide(state).sm_split == {"decode": 32, "vision": 100}
    assert p.splits() == [32]
    with pytest.raises(ValueError, match="valid split"):
        make_policy("nova-static", tables, decode_sms=30)


def _split(plan, stage):
    return None if plan.sm_split is None else plan.sm_split["decode"]


def test_nova_moves_to_the_throughput_end_when_queue_reaches_alpha_and_back_when_drained(tables):
    p = make_policy("nova", tables)
    rate = 10.0
    short = SchedulerState(waiting=(req(0),), decoding=decoding(4), arrival_rate=rate)
    plan = p.decide(short)
    alpha, op, drain = p.last["alpha"], p.last["sm_op"], p.last["sm_min"]
    assert alpha is not None and alpha > 1
    assert _split(plan, "vision") == op
    if op is not None:
        assert plan.sm_split == {"decode": op, "vision": 132 - op}
    # The throughput end serves vision faster than the operating point.
    assert compute_ms(tables, "vision", drain, 5184) < compute_ms(tables, "vision", op, 5184)
    burst = SchedulerState(
        waiting=tuple(req(i) for i in range(alpha)), decoding=decoding(4), arrival_rate=rate
    )
    assert _split(p.decide(burst), "vision") == drain
    drained = SchedulerState(
        waiting=tuple(req(i) for i in range(alpha - 1)), decoding=decoding(4), arrival_rate=rate
    )
    assert _split(p.decide(drained), "vision") == op


def test_nova_operating_point_keeps_up_with_the_load_and_beats_fixed_choices(tables):
    shape = (RequestShape(5184, 1360, 50),)
    static = make_policy("nova-static", tables).fixed
    for rate in (1.0, 8.0, 16.0, 22.0):
        p = make_policy("nova", tables)
        p.decide(SchedulerState(waiting=(req(0),), decoding=decoding(8), arrival_rate=rate))
        op_v = p.last["sm_op"]
        p.decide(SchedulerState(ready=(req(1),), decoding=decoding(8), arrival_rate=rate))
        op = (op_v, p.last["sm_op"])
        m = LatencyModel(tables, shape, rate, 8)
        assert utilisation(rate, m.moments(op)) < 1, (
            f"operating point {op} cannot serve {rate} req/s"
        )
        # No fixed split nor plain sharing is predicted to do better at this load.
        assert m.mean_latency_ms(op) <= min(m.mean_latency_ms(static), m.mean_latency_ms(None))


def test_nova_prefill_co_run_uses_its_own_split(tables):
    p = make_policy("nova", tables)
    plan = p.decide(SchedulerState(ready=(req(1),), decoding=decoding(2), arrival_rate=1.0))
    op = p.last["sm_op"]
    assert plan.prefill.rid == "r1" and p.last["co_runner"] == "prefill"
    assert plan.sm_split == (None if op is None else {"decode": op, "prefill": 132 - op})


def test_nova_gives_a_lone_stage_the_whole_gpu(tables):
    p = make_policy("nova", tables)
    assert p.decide(SchedulerState(decoding=decoding(2))).sm_split == {"decode": 132}
    assert p.decide(SchedulerState(waiting=(req(1),))).sm_split == {"vision": 132}
    assert set(p.splits()) >= {8, 16, 48, 120}


def test_make_policy_errors_say_what_is_accepted(tables):
    with pytest.raises(ValueError, match="choose one of"):
        make_policy("fifo", tables)
    with pytest.raises(ValueError, match="profiled on 132 SMs"):
        make_policy("nova", tables, total_sms=108)
    with pytest.raises(ValueError, match="bad parameters"):
        make_policy("chunk", tables, budgett=64)


def _with_shared(tables, **shared):
    from dataclasses import replace

    return replace(tables, shared={**tables.shared, **shared})


def test_nova_shares_the_gpu_unpartitioned_when_sharing_beats_every_split(tables):
    # Measured sharing that costs neither stage anything dominates any partition.
    cheap = _with_shared(tables, **{"decode|vision": 1.0, "vision|decode": 1.0})
    p = make_policy("nova", cheap)
    plan = p.decide(SchedulerState(waiting=(req(0),), decoding=decoding(4), arrival_rate=10.0))
    assert plan.vision == ("r0",) and plan.sm_split is None and p.last["shared"]
    assert "shared" in plan.reason
    front = build_frontier(cheap, "vision", 5184)
    assert front.shared.decode_sms == front.shared.compute_sms == 132


def test_nova_keeps_partitions_when_sharing_slows_decode(tables):
    # The probe's defaults: decode runs ~5x slower beside vision on plain streams.
    p = make_policy("nova", tables)
    plan = p.decide(SchedulerState(waiting=(req(0),), decoding=decoding(4), arrival_rate=10.0))
    assert (
        plan.sm_split is not None
        and plan.sm_split["decode"] == p.last["sm_op"]
        and not p.last["shared"]
    )
    # Tables without a shared measurement never choose it.
    bare = _with_shared(tables)
    bare.shared.clear()
    assert build_frontier(bare, "vision", 5184).shared is None


def test_nova_holds_the_split_a_compute_stage_started_on_until_it_ends(tables):
    p = make_policy("nova", tables)
    rate = 10.0
    start = p.decide(SchedulerState(waiting=(req(0),), decoding=decoding(4), arrival_rate=rate))
    alpha, op, drain = p.last["alpha"], p.last["sm_op"], p.last["sm_min"]
    assert start.vision == ("r0",) and op != drain
    # r0 encodes; a burst arrives that would move a fresh decision to the throughput end.
    burst = tuple(req(i) for i in range(1, alpha + 2))
    during = p.decide(
        SchedulerState(waiting=burst, in_vision=req(0), decoding=decoding(4), arrival_rate=rate)
    )
    assert during.sm_split == start.sm_split and not during.vision and "held" in during.reason
    # r0 is done: the next compute stage starts at the throughput end, and that split is held.
    nxt = p.decide(SchedulerState(waiting=burst, decoding=decoding(5), arrival_rate=rate))
    assert nxt.vision == ("r1",) and _split(nxt, "vision") == drain
    held = p.decide(
        SchedulerState(waiting=burst[1:], in_vision=req(1), decoding=decoding(5), arrival_rate=rate)
    )
    assert held.sm_split == nxt.sm_split


def test_nova_decode_joining_a_compute_stage_started_alone_shares_the_gpu(tables):
    p = make_policy("nova", tables)
    alone = p.decide(SchedulerState(waiting=(req(0),)))
    assert alone.sm_split == {"vision": 132}
    joined = p.decide(SchedulerState(in_vision=req(0), decoding=decoding(1)))
    assert joined.decode == (0,) and joined.sm_split is None


# ---------------------------------------------------------------- calibration and decode pacing
def test_calibrated_tables_correct_each_stage_and_kind_from_observations(tables):
    from runtimes.vlm.scheduler.calibrate import CalibratedTables

    c = CalibratedTables(tables, min_samples=3)
    profiled = tables.interp("decode", 32, 8, "vision")
    for _ in range(2):
        c.observe("decode", 32, 8, "vision", 2 * profiled)
    assert (
        c.interp("decode", 32, 8, "vision") == profiled and c.version() == 0
    )  # too few samples yet
    c.observe("decode", 32, 8, "vision", 2 * profiled)
    assert c.interp("decode", 32, 8, "vision") == pytest.approx(2 * profiled) and c.version() == 1
    # The correction is per kind: every partition of decode, not decode alone or on plain streams.
    assert c.interp("decode", 64, 16, "prefill") == pytest.approx(
        2 * tables.interp("decode", 64, 16, "prefill")
    )
    assert c.interp("decode", 132, 8) == tables.interp("decode", 132, 8)
    assert c.interp("decode", None, 8, "vision") == tables.interp("decode", None, 8, "vision")
    assert c.corrections()["decode|partition"] == {"ratio": 2.0, "samples": 3, "applied": 2.0}
    # A whole-GPU share that a co-runner joined is plain-stream sharing.
    assert c.kind(132, "decode") == (None, "shared") and c.kind(100, None) == (100, "solo")
    # Noise within the tolerance leaves the applied correction (and the policy's cache) alone...
    for f in (2.1, 1.9, 2.15, 1.95):
        c.observe("decode", 32, 8, "vision", f * profiled)
    assert c.version() == 1 and c.corrections()["decode|partition"]["applied"] == 2.0
    # ...a real drift moves it; one wild sample (a first call's set-up) is clamped.
    for _ in range(10):
        c.observe("decode", 32, 8, "vision", 3 * profiled)
    assert c.version() >= 2 and 2.2 < c.corrections()["decode|partition"]["applied"] <= 3
    c.observe("decode", 32, 8, "vision", 1000 * profiled)
    assert c.corrections()["decode|partition"]["ratio"] <= 3.2


def _observe_many(p, n, *obs):
    for _ in range(n):
        for stage, sms, size, co, factor in obs:
            p.observe(stage, sms, size, co, factor * p.tables.base.interp(stage, sms, size, co))


def test_nova_moves_its_operating_point_when_the_engine_measures_partitions_slower(tables):
    p = make_policy("nova", tables)
    state = SchedulerState(waiting=(req(0),), decoding=decoding(8), arrival_rate=6.0)
    p.decide(state)
    assert p.last["sm_op"] is not None  # the probe's tables: decode suffers on plain streams
    # The engine sees decode on partitions 4x slower and plain-stream sharing far cheaper than profiled.
    _observe_many(
        p,
        5,
        ("decode", 32, 8, "vision", 4.0),
        ("decode", None, 8, "vision", 0.25),
        ("decode", 32, 8, "prefill", 4.0),
        ("decode", None, 8, "prefill", 0.25),
    )
    p._held = None
    plan = p.decide(state)
    assert p.last["sm_op"] is None and plan.sm_split is None and "shared" in plan.reason


def test_nova_paces_decode_at_the_throughput_end_when_that_serves_compute_faster(tables):
    from runtimes.vlm.scheduler.tables import Paced

    measured = _with_shared(
        tables,
        **{
            "decode|vision": 1.2,
            "vision|decode": 2.0,
            "decode|prefill": 1.2,
            "prefill|decode": 2.0,
        },
    )
    p = make_policy("nova", measured, guard=0)  # the pacing mechanism alone
    rate = 6.0
    # Compute on a partition beside decode runs 2x slower than profiled in this engine.
    _observe_many(p, 5, ("vision", 100, 5184, "decode", 2.0), ("prefill", 100, 1360, "decode", 2.0))
    short = p.decide(SchedulerState(waiting=(req(0),), decoding=decoding(8), arrival_rate=rate))
    alpha = p.last["alpha"]
    assert p.last["sm_min"] == Paced(2.0) and p.last["sm_op"] != Paced(2.0) and alpha is not None
    assert short.decode_gap_ms == 0
    p._held = None
    burst = SchedulerState(
        waiting=tuple(req(i) for i in range(alpha + 3)), decoding=decoding(8), arrival_rate=rate
    )
    plan = p.decide(burst)
    assert plan.sm_split is None and plan.decode_gap_ms > 0 and "paced" in plan.reason
    # Paced sharing serves the compute stages faster than any partition the tables know.
    m = LatencyModel(p.tables, (RequestShape(5184, 1360, 50),), rate, 8)
    assert m.moments(Paced(2.0)).mean_ms < min(
        m.moments(s).mean_ms for s in (None, 8, 16, 32, 64, 96)
    )
    # The gap is at least what keeps a paced step (gap included) at the decode slowdown bound; more
    # where the decoding requests have slack against the queue's worst predicted latency.
    alone, shared_step = (
        measured.interp("decode", 132, 8),
        measured.interp("decode", None, 8, "vision"),
    )
    assert plan.decode_gap_ms == pytest.approx(
        max(2.0 * alone - shared_step, p.last["slack_gap_ms"])
    )
    # Held while that vision encode runs, gap included...
    during = p.decide(
        SchedulerState(
            waiting=burst.waiting[1:], in_vision=req(0), decoding=decoding(8), arrival_rate=rate
        )
    )
    assert during.decode_gap_ms == plan.decode_gap_ms and "held" in during.reason
    # ...but never while a prefill waits for a KV slot that only decode can free.
    starved = p.decide(
        SchedulerState(
            waiting=burst.waiting[1:],
            ready=(req(99),),
            in_vision=req(0),
            decoding=decoding(8),
            arrival_rate=rate,
            free_slots=0,
        )
    )
    assert starved.decode_gap_ms == 0
    # With pacing off, no plan is ever paced.
    q = make_policy("nova", measured, pace=False)
    _observe_many(q, 5, ("vision", 100, 5184, "decode", 2.0), ("prefill", 100, 1360, "decode", 2.0))
    assert q.decide(burst).decode_gap_ms == 0 and not isinstance(q.last["sm_min"], Paced)


def test_nova_slack_pacing_spends_only_the_slack_decoding_requests_have_against_the_queue(tables):
    p = make_policy("nova", tables, max_gap_factor=4.0)  # off by default
    alone = tables.interp("decode", 132, 8)
    queue = tuple(req(i) for i in range(30))
    fresh = tuple(
        DecodeView(f"d{i}", i, 5, arrival_ms=1000.0) for i in range(8)
    )  # arrived just now
    state = SchedulerState(now_ms=1000.0, waiting=queue, decoding=fresh, arrival_rate=6.0)
    # 30 queued requests take seconds to drain; 5 tokens left each: the cap applies.
    assert p._slack_gap(state, 100.0, alone, alone) == pytest.approx(p.max_gap_factor * alone)
    # A request that has already waited almost as long as the queue's worst will: no slack.
    old = fresh + (DecodeView("late", 9, 50, arrival_ms=1000.0 - 40 * 100.0),)
    tight = SchedulerState(now_ms=1000.0, waiting=queue, decoding=old, arrival_rate=6.0)
    assert p._slack_gap(tight, 100.0, alone, alone) < 0.2 * alone
    # Nothing queued, or nothing decoding: nothing to trade.
    assert p._slack_gap(SchedulerState(now_ms=1000.0, decoding=fresh), 100.0, alone, alone) == 0
    assert p._slack_gap(SchedulerState(now_ms=1000.0, waiting=queue), 100.0, alone, alone) == 0
    done = (DecodeView("d0", 0, 0, arrival_ms=1000.0),)
    assert (
        p._slack_gap(
            SchedulerState(now_ms=1000.0, waiting=queue, decoding=done), 100.0, alone, alone
        )
        == 0
    )


def test_calibrated_tables_seeded_from_a_runs_metrics_apply_what_it_learnt(tables):
    from runtimes.vlm.scheduler.calibrate import CalibratedTables

    learnt = {
        "prefill|partition": {"ratio": 2.0, "samples": 9, "applied": 1.9},
        "decode|shared": {"ratio": 0.5, "samples": 2, "applied": None},
    }
    t = CalibratedTables.seeded(tables, learnt)
    assert t.interp("prefill", 100, 1360, "decode") == pytest.approx(
        2 * tables.interp("prefill", 100, 1360, "decode")
    )
    assert t.interp("decode", None, 8, "vision") == tables.interp(
        "decode", None, 8, "vision"
    )  # too few samples
    assert t.version() == 1 and t.corrections()["prefill|partition"]["applied"] == 2.0
    with pytest.raises(ValueError, match="unknown calibration kind"):
        CalibratedTables.seeded(tables, {"prefill|sideways": {"ratio": 1.0, "samples": 9}})


def test_a_paced_choice_with_no_idle_time_left_is_plain_sharing(tables):
    from runtimes.vlm.scheduler.tables import Paced

    # The probe's tables: decode beside vision on plain streams is already ~5x its step alone, so
    # pacing at a 2x bound leaves no gap to idle.
    p = make_policy("nova", tables, guard=0)  # the mechanism, without the do-no-harm guard
    assert tables.interp("decode", None, 4, "vision") >= 2.0 * tables.interp("decode", 132, 4)
    p._model = lambda rate: ((Paced(2.0), Paced(2.0)), (Paced(2.0), Paced(2.0)), None, 100.0)
    plan = p.decide(SchedulerState(waiting=(req(0),), decoding=decoding(4), arrival_rate=5.0))
    assert plan.vision == ("r0",) and plan.sm_split is None and plan.decode_gap_ms == 0
    assert p.last["shared"] and "unpartitioned (shared)" in plan.reason
