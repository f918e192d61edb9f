"""FP8 (e4m3) decode projections (`model/fp8.py`): the quantisation and scales, the fp32 fallback
the CPU runs, the tiny model's decode on it, and the engine's opt-in."""

import pytest
import torch

from runtimes.vlm.model import KVCache
from runtimes.vlm.model.fp8 import (
    E4M3_MAX,
    dequantize,
    fp8_linear,
    quantize_rows,
    reference_fp8_linear,
    scaled_mm_ok,
)
from runtimes.vlm.weights import load_vlm


def test_per_row_scales_map_each_rows_largest_magnitude_to_the_e4m3_maximum():
    w = torch.randn(64, 96) * torch.logspace(-3, 2, 64)[:, None]  # rows of very different ranges
    q, scale = quantize_rows(w)
    assert q.dtype == torch.float8_e4m3fn and scale.shape == (64, 1)
    assert torch.allclose(scale[:, 0], w.abs().amax(1) / E4M3_MAX)
    assert torch.equal(q.float().abs().amax(1), torch.full((64,), E4M3_MAX))
    # e4m3 keeps 3 mantissa bits: every element within half an ulp, 2^-4 of its magnitude,
    # except below the normal range (2^-6 of the row's scale), where the step is absolute.
    err = (dequantize(q, scale) - w).abs()
    bound = torch.maximum(w.abs() * 2**-4, scale * 2**-9)
    assert bool((err <= bound * 1.0001).all())


def test_an_all_zero_row_keeps_scale_one_and_stays_zero():
    w = torch.zeros(3, 16)
    w[1] = torch.randn(16)
    q, scale = quantize_rows(w)
    assert scale[0, 0] == 1 and scale[2, 0] == 1
    assert torch.equal(dequantize(q, scale)[0], torch.zeros(16))


def test_quantize_rows_refuses_other_shapes():
    with pytest.raises(ValueError, match="2-D"):
        quantize_rows(torch.randn(2, 3, 4))


def test_fp8_linear_on_the_cpu_is_the_fp32_reference_and_close_to_the_exact_product():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 256)
    w = torch.randn(48, 256) / 16
    bias = torch.randn(48)
    w_q, s = quantize_rows(w)
    assert not scaled_mm_ok(x, w_q)  # no CUDA here: the fallback runs
    y = fp8_linear(x, w_q, s, bias)
    assert y.shape == (2, 1, 48) and torch.equal(y, reference_fp8_linear(x, w_q, s, bias))
    exact = torch.nn.functional.linear(x, w, bias)
    rel = ((y - exact).norm() / exact.norm()).item()
    assert 0 < rel < 0.05  # quantised (not equal), yet within e4m3's few per cent


@pytest.fixture(scope="module")
def vlm():
    return load_vlm("tiny", "cpu", torch.float32, seed=0)


def _decode(model, fp8: bool):
    cfg = model.config
    cache = KVCache(cfg, 3, 256)
    gen = torch.Generator().manual_seed(1)
    cache.k.normal_(0, 1, generator=gen)
    cache.v.normal_(0, 1, generator=gen)
    cache.lengths[:2] = torch.tensor([5, 40])
    model.text.fp8 = fp8
    try:
        with torch.inference_mode():
            return model.text.decode(torch.tensor([3, 7]), None, cache, torch.arange(2))
    finally:
        model.text.fp8 = False


def test_tiny_model_decodes_on_e4m3_weights_close_to_full_precision(vlm):
    model, _ = vlm
    full = _decode(model, False)
    model.text.quantize_fp8()
    text = model.text
    assert text._fp8["0.wqkv"][0].dtype == torch.float8_e4m3fn
    assert set(text._fp8) == {"lm_head"} | {
        f"{i}.{n}" for i in range(len(text.layers)) for n in ("wqkv", "wo", "gate_up", "down")
    }
    q = _decode(model, True)
    rel = ((q - full).abs().max() / full.abs().max()).item()
    assert 0 < rel < 0.15
    assert _decode(model, False).equal(full)  # fp8 off again: the bf16/fp32 weights untouched


@pytest.mark.timeout(60)
def test_engine_fp8_is_opt_in_and_serves(vlm):
    from runtimes.vlm.engine import Engine, EngineConfig
    from runtimes.vlm.scheduler.policies import make_policy
    from runtimes.vlm.scheduler.tables import default_tables

    model, tok = vlm
    for fp8 in (True, False):
        policy = make_policy("multi-stream", default_tables(), max_batch=2)
        with Engine(model, policy, config=EngineConfig(max_batch=2, max_len=256, fp8=fp8)) as e:
            assert model.text.fp8 is fp8
            r = e.submit(tok.encode("tap ok"), 4).wait(30)
        assert r.error is None and len(r.output_ids) == 4
