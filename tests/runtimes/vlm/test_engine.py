"""The Nova engine on the CPU with the tiny preset: every policy gives each request exactly the
tokens of a plain sequential greedy decode, while requests are batched, chunked and pipelined."""

import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from runtimes.vlm.engine import Engine, EngineConfig, batch_buckets, percentiles
from runtimes.vlm.model import KVCache
from runtimes.vlm.preprocess import preprocess_image
from runtimes.vlm.scheduler.policies import POLICY_NAMES, make_policy
from runtimes.vlm.scheduler.tables import default_tables
from runtimes.vlm.weights import load_vlm

MAX_BATCH = 4
# NOVA_TEST_DEVICE=cuda runs the same tests on a GPU: green-context partitions and decode graphs.
DEVICE = os.environ.get("NOVA_TEST_DEVICE", "cpu")


@pytest.fixture(scope="module")
def vlm():
    return load_vlm("tiny", DEVICE, torch.float32, seed=0)


def partitioner():
    from runtimes.vlm.partition import make_partitioner

    return make_partitioner("green" if DEVICE.startswith("cuda") else "noop")


def image(seed, size):
    rgb = (np.random.RandomState(seed).rand(size[1], size[0], 3) * 255).astype("uint8")
    return Image.fromarray(rgb)


def workload(vlm):
    """Six requests: two image sizes, one text-only, different prompts and output lengths."""
    model, tok = vlm
    cfg = model.config
    out = []
    for i in range(6):
        prompt = tok.chat_prompt(
            f"tap the {['ok', 'search', 'back'][i % 3]} button, step {i}" + " please" * i
        )
        pv = grid = None
        if i == 3:  # text only: no vision_start/vision_end pair to fill
            prompt = [t for t in prompt if t not in (cfg.vision_start_id, cfg.vision_end_id)]
        else:
            pv, grid = preprocess_image(
                image(i, (120, 90) if i % 2 else (60, 110)),
                cfg.min_pixels,
                cfg.max_pixels,
                cfg.vision,
            )
        out.append((prompt, 5 + 2 * i, pv, grid))
    return out


def reference_decode(model, prompt, max_tokens, pv, grid):
    """Plain greedy decoding of one request alone: whole prefill, then one token at a time."""
    cache = KVCache(model.config, 1, 1024, DEVICE)
    with torch.inference_mode():
        emb = model.vision(pv.to(DEVICE), grid.to(DEVICE)) if pv is not None else None
        ids, pos = model.build_inputs(prompt, 0 if emb is None else emb.shape[0], grid)
        out = [int(model.prefill(ids, pos, emb, cache, 0).argmax(-1))]
        while len(out) < max_tokens and out[-1] != model.config.eos_id:
            step = model.decode(
                torch.tensor([out[-1]], device=DEVICE),
                None,
                cache,
                torch.tensor([0], device=DEVICE),
            )
            out.append(int(step.argmax(-1)))
    return out


@pytest.fixture(scope="module")
def expected(vlm):
    return [reference_decode(vlm[0], *w) for w in workload(vlm)]


def run_all(vlm, policy_name, max_tokens=None, **params):
    policy = make_policy(policy_name, default_tables(), max_batch=MAX_BATCH, **params)
    with Engine(
        vlm[0], policy, partitioner(), EngineConfig(max_batch=MAX_BATCH, max_len=1024)
    ) as engine:
        reqs = []
        threads = [
            threading.Thread(
                target=lambda w=w: reqs.append(
                    (w, engine.submit(w[0], max_tokens or w[1], w[2], w[3]))
                )
            )
            for w in workload(vlm)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for _, r in reqs:
            r.wait(60)
        return reqs, engine.metrics()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("policy_name", POLICY_NAMES)
def test_every_policy_matches_sequential_greedy_decode(vlm, expected, policy_name):
    reqs, metrics = run_all(vlm, policy_name)
    by_prompt = {tuple(w[0]): r for w, r in reqs}
    for w, want in zip(workload(vlm), expected, strict=False):
        r = by_prompt[tuple(w[0])]
        assert r.error is None, r.error
        assert r.output_ids == want, f"{policy_name}: request {r.rid} diverged"
    assert metrics["counts"]["completed"] == 6
    assert metrics["queues"]["decoding"] == 0


@pytest.mark.timeout(120)
def test_pipelined_policy_batches_decode_and_reports_timings(vlm):
    reqs, metrics = run_all(vlm, "nova", max_tokens=80)  # long decodes overlap the next prefills
    assert metrics["decode_batch"]["max"] > 1
    assert metrics["latency_ms"]["total_ms"]["count"] == 6
    for (_, _max_tokens, pv, _), r in reqs:
        t = r.timings()
        assert len(t["decode_ms"]) == len(r.output_ids) - 1  # the first token comes from prefill
        assert t["ttft_ms"] <= t["total_ms"]
        assert (t["vision_ms"] is None) == (pv is None)


@pytest.mark.timeout(120)
def test_nova_learns_stage_time_corrections_from_what_the_engine_measures(vlm):
    _, metrics = run_all(vlm, "nova", max_tokens=40)
    cal = metrics["calibration"]
    # Every stage ran and was reported; the tiny CPU model is nothing like the H100 tables.
    assert {k.split("|")[0] for k in cal} == {"vision", "prefill", "decode"}
    assert sum(v["samples"] for k, v in cal.items() if k.startswith("decode|")) >= 30
    assert all(0.25 <= v["ratio"] <= 4 for v in cal.values())


class _PacedMultiStream:
    """multi-stream with every decode step paced by 5 ms (exercises the engine's pacing)."""

    name = "paced"

    def __init__(self):
        self.inner = make_policy("multi-stream", default_tables(), max_batch=MAX_BATCH)

    def decide(self, state):
        import dataclasses

        plan = self.inner.decide(state)
        return dataclasses.replace(plan, decode_gap_ms=5.0) if plan.decode else plan

    def splits(self):
        return []


@pytest.mark.timeout(120)
def test_paced_decode_steps_give_the_same_tokens(vlm, expected):
    with Engine(
        vlm[0], _PacedMultiStream(), partitioner(), EngineConfig(max_batch=MAX_BATCH, max_len=1024)
    ) as engine:
        reqs = [(w, engine.submit(w[0], w[1], w[2], w[3])) for w in workload(vlm)]
        for _, r in reqs:
            r.wait(60)
        metrics = engine.metrics()
    assert [r.output_ids for _, r in reqs] == expected
    assert metrics["counts"]["paced_steps"] > 0


@pytest.mark.timeout(60)
def test_chunk_policy_prefills_in_chunks_of_its_budget(vlm, expected):
    reqs, _ = run_all(vlm, "chunk", budget=16)
    assert all(r.error is None for _, r in reqs)
    by_prompt = {tuple(w[0]): r.output_ids for w, r in reqs}
    assert [by_prompt[tuple(w[0])] for w in workload(vlm)] == expected


def test_request_longer_than_a_kv_slot_is_refused_with_the_sizes(vlm):
    model, tok = vlm
    policy = make_policy("sequential", default_tables(), max_batch=2)
    engine = Engine(model, policy, config=EngineConfig(max_batch=2, max_len=64))
    with pytest.raises(ValueError, match="KV slot holds 64"):
        engine.submit(tok.encode("hello"), 100)


@pytest.mark.timeout(60)
def test_expired_deadline_fails_the_request_with_a_reason(vlm):
    import time

    model, tok = vlm
    policy = make_policy("multi-stream", default_tables(), max_batch=2)  # admits everything
    with Engine(model, policy, config=EngineConfig(max_batch=2, max_len=512)) as engine:
        r = engine.submit(tok.encode("late"), 4, deadline=time.perf_counter() - 1).wait(30)
        ok = engine.submit(tok.encode("on time"), 4).wait(30)
    assert r.error and "deadline" in r.error
    assert ok.error is None and len(ok.output_ids) >= 1


@pytest.mark.timeout(60)
def test_nova_refuses_at_once_a_request_that_cannot_meet_its_deadline(vlm):
    import time

    from runtimes.vlm.engine import DeadlineUnreachable

    model, tok = vlm
    policy = make_policy("nova", default_tables(), max_batch=2)
    with Engine(model, policy, config=EngineConfig(max_batch=2, max_len=512)) as engine:
        # The H100 tables predict ~100 ms for any request: 1 ms cannot be met.
        with pytest.raises(DeadlineUnreachable, match="cannot meet its deadline: predicted"):
            engine.submit(tok.encode("too tight"), 4, deadline=time.perf_counter() + 0.001)
        ok = engine.submit(tok.encode("roomy"), 4, deadline=time.perf_counter() + 600).wait(30)
        metrics = engine.metrics()
    assert ok.error is None and len(ok.output_ids) >= 1
    assert metrics["counts"]["refused"] == 1 and metrics["counts"]["submitted"] == 1


class _Recording:
    """multi-stream that records the arrival rate of every state it is shown."""

    name = "recording"

    def __init__(self):
        self.inner = make_policy("multi-stream", default_tables(), max_batch=MAX_BATCH)
        self.states = []

    def decide(self, state):
        self.states.append(state)
        return self.inner.decide(state)

    def splits(self):
        return []


@pytest.mark.timeout(60)
def test_engine_and_simulator_share_one_arrival_rate_estimate(vlm):
    """After a burst, the engine and the simulator report the same rate, and both let it decay
    in the silence that follows (issue 19: one estimator, scheduler.queueing's)."""
    from runtimes.vlm.scheduler.simulate import Arrival, _Sim

    model, tok = vlm
    gaps_ms = [0.0, 5.0, 12.0, 20.0, 26.0]  # a burst of five
    with Engine(
        model, _Recording(), config=EngineConfig(max_batch=MAX_BATCH, max_len=512)
    ) as engine:
        reqs = [
            engine.submit(tok.encode(f"burst {i}"), 2, arrival=engine._t0 + g / 1e3)
            for i, g in enumerate(gaps_ms)
        ]
        for r in reqs:
            r.wait(30)
        sim = _Sim(engine.policy.inner, default_tables(), [Arrival(g, 0, 5, 2) for g in gaps_ms], 4)
        for r in sim.reqs:
            sim.arrive(r, r.a.t_ms)
        for now_ms in (30.0, 200.0, 5000.0):  # right after the burst, then silence
            assert engine._rate.rate_per_s(now_ms) == pytest.approx(sim.state(now_ms).arrival_rate)
        after, silent = sim.state(30.0).arrival_rate, sim.state(5000.0).arrival_rate
        assert after > 100 and silent < after / 10
        # What the engine's policy saw while the burst arrived was this estimate, on this clock.
        seen = engine.policy.states[-1]
        assert seen.arrival_rate == pytest.approx(engine._rate.rate_per_s(seen.now_ms))


def test_batch_buckets_cover_every_batch_size():
    assert batch_buckets(8) == [1, 2, 4, 8]
    assert batch_buckets(6) == [1, 2, 4, 6]
    assert batch_buckets(1) == [1]


def test_percentiles_nearest_rank():
    p = percentiles(list(range(1, 101)))
    assert (p["p50"], p["p99"], p["max"], p["count"]) == (50, 99, 100, 100)
    assert percentiles([]) == {"count": 0}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kernels", [False, True])
def test_engine_config_turns_the_triton_decode_kernels_on_or_off(vlm, kernels):
    """EngineConfig.kernels (the runtime's /init "kernels") decides, at start, whether decode
    steps use the Triton GEMV and attention; the engine still serves either way."""
    model, tok = vlm
    policy = make_policy("multi-stream", default_tables(), max_batch=2)
    model.text.kernels = not kernels
    try:
        with Engine(
            model, policy, config=EngineConfig(max_batch=2, max_len=512, kernels=kernels)
        ) as engine:
            assert model.text.kernels is kernels
            r = engine.submit(tok.encode("hi"), 3).wait(30)
        assert r.error is None and len(r.output_ids) == 3
    finally:
        model.text.kernels = False
