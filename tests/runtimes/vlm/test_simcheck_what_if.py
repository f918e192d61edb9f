"""The held-decode what-if of `bench/nova_simcheck.py`: a schedule the simulator can replay, not a
runtime policy (docs/nova.md, session 6)."""

import dataclasses
import json
import os

from bench.nova_simcheck import HeldDecode, overhead_corrections
from runtimes.vlm.scheduler import default_tables, make_policy
from runtimes.vlm.scheduler.calibrate import CalibratedTables
from runtimes.vlm.scheduler.plan import DecodeView, RequestView, SchedulerState
from runtimes.vlm.scheduler.simulate import bursty_arrivals, simulate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _state(queued: int, free_slots: int, computing: bool = True) -> SchedulerState:
    reqs = tuple(RequestView(f"r{i}", 0.0, 5000, 1300, 50) for i in range(queued + 1))
    return SchedulerState(
        waiting=reqs[1:],
        in_vision=reqs[0] if computing else None,
        decoding=(DecodeView("d", 0, 20),),
        free_slots=free_slots,
    )


def test_decode_is_held_only_while_compute_runs_with_a_queue_and_slots_are_free():
    policy = HeldDecode(default_tables(), queue=2)
    assert policy.decide(_state(queued=2, free_slots=4)).decode == ()
    assert policy.decide(_state(queued=1, free_slots=4)).decode == (0,)  # queue below q
    assert policy.decide(_state(queued=0, free_slots=4, computing=False)).decode == (
        0,
    )  # nothing to protect
    starved = dataclasses.replace(
        _state(queued=3, free_slots=0), ready=(RequestView("p", 0.0, 0, 1300, 50),)
    )
    assert policy.decide(starved).decode == (0,)  # a prefill waits for a slot: decode must free one


def test_held_decode_runs_compute_alone_more_than_multi_stream():
    tables = default_tables()
    arrivals = bursty_arrivals(40, rate_per_s=8.0, cv=3.0, seed=5)
    runs = {
        p.name: simulate(p, tables, arrivals)
        for p in (make_policy("multi-stream", tables), HeldDecode(tables, queue=1))
    }
    for r in runs.values():
        assert all(q.finish_ms is not None for q in r.requests)

    def overlapped_ms(result):
        decode = [(i.start_ms, i.end_ms) for i in result.trace if i.stage == "decode"]
        return sum(
            max(0.0, min(e, de) - max(s, ds))
            for i in result.trace
            if i.stage in ("vision", "prefill")
            for s, e in [(i.start_ms, i.end_ms)]
            for ds, de in decode
        )

    assert overlapped_ms(runs["held-decode/q=1"]) < 0.5 * overlapped_ms(runs["multi-stream"])


def test_overhead_corrections_reproduce_the_measured_engine_times():
    tables = default_tables()
    overhead = {
        "patches": 5088,
        "engine": {"vision_ms": 40.0, "prefill_ms": 41.0},
        "engine_with_decode": {"vision_ms": 56.0, "prefill_ms": 60.0},
    }
    learnt = {
        "decode|shared": {"ratio": 1.3, "samples": 50},
        "vision|shared": {"ratio": 9.0, "samples": 50},
    }
    t = CalibratedTables.seeded(
        tables, overhead_corrections(tables, overhead, learnt, prompt_tokens=1339)
    )
    assert abs(t.interp("vision", None, 5088) - 40.0) < 1e-6
    assert (
        abs(t.interp("vision", None, 5088, "decode") - 56.0) < 1e-6
    )  # the study's, not the learnt 9x
    assert abs(t.interp("prefill", None, 1339, "decode") - 60.0) < 1e-6
    assert (
        abs(
            t.interp("decode", None, 4, "vision") / tables.interp("decode", None, 4, "vision") - 1.3
        )
        < 1e-6
    )


def test_committed_what_if_result_has_its_command_and_every_threshold():
    path = os.path.join(ROOT, "bench/results/nova/bench_qwen2-vl-7b_calibrated_held_decode.json")
    with open(path) as f:
        doc = json.load(f)
    assert (
        doc["command"].startswith("python3 bench/nova_simcheck.py")
        and "--what-if held-decode" in doc["command"]
    )
    for rows in doc["what_if_held_decode"].values():
        for row in rows.values():
            assert set(row) == {"multi-stream", *(f"held-decode/q={q}" for q in (1, 2, 4, 8))}
