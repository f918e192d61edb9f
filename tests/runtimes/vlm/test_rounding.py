"""`bench/nova_rounding.py`: two correct bf16 decode steps that differ only in summation order."""

import torch
import torch.nn.functional as F

from bench.nova_rounding import fp32_once, measure


def test_fp32_once_is_f_linear_up_to_one_rounding():
    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(*s, generator=g).to(torch.bfloat16) for s in ((4, 64), (32, 64), (32,)))
    exact = F.linear(x.double(), w.double(), b.double())
    got = fp32_once(x, w, b)
    assert got.dtype == torch.bfloat16 and got.shape == (4, 32)
    assert (
        (got.double() - exact).abs() <= exact.abs() * 2**-8 + 1e-6
    ).all()  # within half a bf16 ulp


def test_summation_order_barely_moves_the_logits_of_a_shallow_model():
    r = measure("tiny", 8)
    assert r["layers"] == 2 and r["batch"] == 8
    assert r["max_rel_err"] < 1e-2 and r["argmax_equal"] and r["rows_with_argmax_changed"] == 0
