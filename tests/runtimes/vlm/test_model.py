"""Nova VLM model: preset shapes, request building, KV-cache slots, batched and chunked execution (CPU, fp32)."""

from __future__ import annotations

import pytest
import torch

from runtimes.vlm.config import PRESETS, from_hf_config, get_preset, to_hf_config
from runtimes.vlm.model import KVCache
from runtimes.vlm.weights import count_params, random_vlm

CFG = PRESETS["tiny"]
GRID = torch.tensor([[1, 4, 6]])
EXACT = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def model():
    vlm = random_vlm(CFG, seed=11)
    with torch.no_grad():  # O(1) activations so that any cross-talk shows in the logits
        for p in vlm.parameters():
            if p.dim() > 1:
                p.mul_(6.0)
    return vlm


def _request(model, seed: int, prompt_len: int):
    gen = torch.Generator().manual_seed(seed)
    prompt = [CFG.vision_start_id, CFG.vision_end_id] + torch.randint(
        0, 256, (prompt_len,), generator=gen
    ).tolist()
    pixel_values = torch.randn(int(GRID.prod()), CFG.vision.patch_dim, generator=gen)
    with torch.no_grad():
        embeds = model.vision(pixel_values, GRID)
    input_ids, positions = model.build_inputs(prompt, embeds.shape[0], GRID)
    return input_ids, positions, embeds


def _greedy_alone(model, req, steps: int) -> list[torch.Tensor]:
    cache = KVCache(CFG, max_slots=1, max_len=64)
    with torch.no_grad():
        logits = [model.prefill(*req, cache, slot=0)]
        for _ in range(steps):
            logits.append(model.decode(logits[-1].argmax(-1), None, cache, torch.tensor([0])))
    return logits


@pytest.mark.parametrize("preset,expected", [("qwen2-vl-2b", 2.21e9), ("qwen2-vl-7b", 8.29e9)])
def test_preset_parameter_counts_match_the_real_models(preset, expected):
    counts = count_params(PRESETS[preset])
    assert abs(counts["total"] - expected) / expected < 0.03
    assert counts["vision"] == pytest.approx(0.67e9, rel=0.03)


def test_cogagent_preset_has_a_dominant_4b_vision_encoder():
    counts = count_params(PRESETS["cogagent-9b"])
    assert 3.8e9 < counts["vision"] < 4.6e9
    assert 7e9 < counts["text"] < 9.6e9


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="qwen2-vl-7b"):
        get_preset("qwen-13b")


def test_hf_config_round_trip():
    for name in ("tiny", "qwen2-vl-2b", "qwen2-vl-7b"):
        cfg = PRESETS[name]
        back = from_hf_config(to_hf_config(cfg), name=name)
        assert (back.vision, back.text, back.image_pad_id, back.eos_id) == (
            cfg.vision,
            cfg.text,
            cfg.image_pad_id,
            cfg.eos_id,
        )


def test_hf_config_rejects_other_model_types():
    with pytest.raises(ValueError, match="qwen2_5_vl"):
        from_hf_config({"model_type": "qwen2_5_vl"})


def test_build_inputs_places_image_tokens_between_vision_markers(model):
    c = CFG
    ids, positions = model.build_inputs([7, c.vision_start_id, c.vision_end_id, 8], 6, GRID)
    assert ids[0].tolist() == [7, c.vision_start_id] + [c.image_pad_id] * 6 + [c.vision_end_id, 8]
    assert positions.shape == (3, 1, 10)
    # image block: t=0, rows 0..1, cols 0..2, offset by 2; text resumes at 2 + max(2, 3)
    assert positions[:, 0, 2:8].tolist() == [[2] * 6, [2, 2, 2, 3, 3, 3], [2, 3, 4, 2, 3, 4]]
    assert positions[:, 0, 8:].tolist() == [[5, 6]] * 3
    with pytest.raises(ValueError, match="describes 6 image tokens"):
        model.build_inputs([7], 5, GRID)


def test_kv_slots_are_isolated(model):
    """Two requests decoding in different slots of one cache produce what each produces alone."""
    a, b = _request(model, 1, 9), _request(model, 2, 13)
    steps = 6
    want_a, want_b = _greedy_alone(model, a, steps), _greedy_alone(model, b, steps)
    cache = KVCache(CFG, max_slots=4, max_len=64)
    with torch.no_grad():
        la, lb = [model.prefill(*a, cache, slot=3)], [model.prefill(*b, cache, slot=1)]
        for _ in range(steps):  # interleaved single-request steps
            la.append(model.decode(la[-1].argmax(-1), None, cache, torch.tensor([3])))
            lb.append(model.decode(lb[-1].argmax(-1), None, cache, torch.tensor([1])))
    for got, want in zip(la + lb, want_a + want_b, strict=False):
        torch.testing.assert_close(got, want, **EXACT)


def test_batched_decode_equals_independent_decodes(model):
    reqs = [_request(model, s, n) for s, n in ((3, 5), (4, 11), (5, 8))]
    steps = 5
    alone = [_greedy_alone(model, r, steps) for r in reqs]
    cache = KVCache(CFG, max_slots=5, max_len=64)
    slots = torch.tensor([4, 0, 2])
    with torch.no_grad():
        first = torch.cat(
            [model.prefill(*r, cache, slot=int(s)) for r, s in zip(reqs, slots, strict=False)]
        )
        batched = [first]
        for _ in range(steps):
            batched.append(model.decode(batched[-1].argmax(-1), None, cache, slots))
    for step, logits in enumerate(batched):
        for i in range(len(reqs)):
            torch.testing.assert_close(logits[i : i + 1], alone[i][step], **EXACT)
    assert cache.lengths[slots].tolist() == [r[0].shape[1] + steps for r in reqs]


def test_decode_with_explicit_positions_equals_derived_positions(model):
    req = _request(model, 6, 7)
    caches = [KVCache(CFG, max_slots=2, max_len=64) for _ in range(2)]
    with torch.no_grad():
        token = model.prefill(*req, caches[0], slot=1).argmax(-1)
        model.prefill(*req, caches[1], slot=1)
        derived = model.decode(token, None, caches[0], torch.tensor([1]))
        pos = int(req[1].max()) + 1
        explicit = model.decode(token, torch.full((3, 1), pos), caches[1], torch.tensor([1]))
    assert torch.equal(derived, explicit)


@pytest.mark.parametrize("chunk", [4, 7])
def test_chunked_prefill_equals_whole_prefill(model, chunk):
    req = _request(model, 8, 12)
    total = req[0].shape[1]
    whole = _greedy_alone(model, req, 3)
    cache = KVCache(CFG, max_slots=2, max_len=64)
    with torch.no_grad():
        for start in range(0, total, chunk):  # chunk boundaries cut through the image tokens
            logits = model.prefill_chunk(
                *req, cache, slot=0, start=start, end=min(start + chunk, total)
            )
        steps = [logits]
        for _ in range(3):
            steps.append(model.decode(steps[-1].argmax(-1), None, cache, torch.tensor([0])))
    for got, want in zip(steps, whole, strict=False):
        torch.testing.assert_close(got, want, **EXACT)


def test_prefill_rejects_a_chunk_that_skips_tokens(model):
    req = _request(model, 9, 6)
    cache = KVCache(CFG, max_slots=1, max_len=64)
    with torch.no_grad():
        model.prefill_chunk(*req, cache, slot=0, start=0, end=4)
        with pytest.raises(ValueError, match="holds 4 tokens"):
            model.prefill_chunk(*req, cache, slot=0, start=6)


def test_missing_image_embeddings_are_reported(model):
    ids, positions, _ = _request(model, 10, 4)
    with pytest.raises(ValueError, match="image embeddings"):
        model.prefill(ids, positions, None, KVCache(CFG, 1, 64), slot=0)


def test_decode_with_a_kv_length_bucket_equals_full_cache_decode(model):
    req = _request(model, 12, 5)
    full = _greedy_alone(model, req, 4)
    cache = KVCache(CFG, max_slots=2, max_len=64)
    with torch.no_grad():
        steps = [model.prefill(*req, cache, slot=1)]
        for _ in range(4):
            steps.append(
                model.decode(steps[-1].argmax(-1), None, cache, torch.tensor([1]), kv_len=32)
            )
    for got, want in zip(steps, full, strict=False):
        torch.testing.assert_close(got, want, **EXACT)


def test_bfloat16_prefill_and_decode_stay_close_to_fp32():
    ref = random_vlm(CFG, seed=2)
    low = random_vlm(CFG, dtype=torch.bfloat16, seed=2)
    req = _request(ref, 13, 6)
    with torch.no_grad():
        want = _greedy_alone(ref, req, 2)
        cache = KVCache(CFG, max_slots=1, max_len=64, dtype=torch.bfloat16)
        got = [
            low.prefill(*req, cache, slot=0)
        ]  # fp32 image embeddings are cast to the model dtype
        got.append(low.decode(want[0].argmax(-1), None, cache, torch.tensor([0])))
    for g, w in zip(got, want, strict=False):
        assert g.dtype == torch.bfloat16
        torch.testing.assert_close(g.float(), w, atol=0.05, rtol=0.05)


def test_compiled_decode_traces_one_graph_for_every_layer_and_matches_eager(model):
    """compile_decode() must give the eager logits, and reuse its traced graphs across the layers
    (weights are arguments) and across batch sizes (dynamic batch axis) instead of recompiling."""
    import copy

    torch._dynamo.reset()
    compiled = copy.deepcopy(model)
    assert compiled.text.compile_decode(backend="aot_eager")
    reqs = [_request(model, s, n) for s, n in ((3, 5), (4, 11), (5, 8))]
    for batch in (1, 3, 2):
        slots = torch.arange(batch)
        outs = []
        for m in (model, compiled):
            cache = KVCache(CFG, max_slots=3, max_len=64)
            with torch.no_grad():
                first = torch.cat(
                    [m.prefill(*r, cache, slot=i) for i, r in enumerate(reqs[:batch])]
                )
                outs.append([m.decode(first.argmax(-1), None, cache, slots)])
                outs[-1].append(m.decode(outs[-1][0].argmax(-1), None, cache, slots))
        for got, want in zip(outs[1], outs[0], strict=False):
            torch.testing.assert_close(got, want, **EXACT)
        graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        if batch == 1:  # every layer reused the three graphs traced for the first one
            assert graphs == 3, (
                f"{graphs} graphs traced for 3 functions over {CFG.text.num_layers} layers"
            )
    assert graphs <= 9, f"{graphs} graphs for 3 batch sizes: recompiling per layer"
    assert not model.text.decode_compiled and compiled.text.decode_compiled
    assert not model.text.compile_decode()  # no backend named on a CPU model: stays eager


@pytest.mark.parametrize("kv_len,lengths", [(256, [1, 130, 256]), (96, [5, 96, 40])])
def test_split_kv_attention_equals_sdpa_over_each_slots_keys(kv_len, lengths):
    """Blocked decode attention (text.attend) against SDPA on each slot's visible keys alone,
    including blocks that are entirely masked (short slots)."""
    from runtimes.vlm.model.text import MASKED, attend

    gen = torch.Generator().manual_seed(3)
    b, nkv, rep, hd, slots_n = len(lengths), 2, 3, 16, 5
    k_cache = torch.randn(slots_n, nkv, kv_len, hd, generator=gen)
    v_cache = torch.randn(slots_n, nkv, kv_len, hd, generator=gen)
    q = torch.randn(b, nkv, rep, hd, generator=gen)
    slots = torch.tensor([4, 0, 2])
    visible = torch.arange(kv_len)[None, :] < torch.tensor(lengths)[:, None]
    mask = torch.zeros(b, 1, 1, kv_len).masked_fill_(~visible[:, None, None, :], MASKED)
    got = attend(q, k_cache, v_cache, slots, mask)
    for i, (slot, n) in enumerate(zip(slots.tolist(), lengths, strict=False)):
        want = torch.nn.functional.scaled_dot_product_attention(
            q[i : i + 1], k_cache[slot : slot + 1, :, :n], v_cache[slot : slot + 1, :, :n]
        )
        torch.testing.assert_close(got[i].view(nkv, rep, hd), want[0], **EXACT)
