"""bench/platform_invoke.py's parsing of wrk's output (the figures the README reports)."""

from __future__ import annotations

import pytest

from bench.platform_invoke import parse_wrk, wrk_ms

WRK_OUT = """Running 10s test @ http://127.0.0.1:40001
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.35ms    5.01ms  95.12ms   80.00%
    Req/Sec   375.12     40.20   460.00     70.00%
  Latency Distribution
     50%   20.10ms
     75%   23.40ms
     90%   27.77ms
     99%    1.02s
  7512 requests in 10.01s, 4.10MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 12
Requests/sec:    750.45
Transfer/sec:    419.31KB
"""


def test_wrk_latency_units():
    assert wrk_ms("812.00us") == pytest.approx(0.812)
    assert wrk_ms("1.20ms") == pytest.approx(1.2)
    assert wrk_ms("2.01s") == pytest.approx(2010.0)
    with pytest.raises(ValueError):
        wrk_ms("fast")


def test_parse_wrk_reads_counts_and_percentiles():
    res = parse_wrk(WRK_OUT)
    assert res["requests"] == 7512 and res["non_2xx"] == 12
    assert res["latency_ms"] == pytest.approx({"50": 20.1, "75": 23.4, "90": 27.77, "99": 1020.0})
    assert "timeout 3" in res["socket_errors"]


def test_parse_wrk_without_errors():
    out = WRK_OUT.replace("  Non-2xx or 3xx responses: 12\n", "")
    assert parse_wrk(out)["non_2xx"] == 0


def test_median_difference_ci_of_interleaved_rounds():
    import random

    from bench.platform_invoke import median_difference_ci95

    rng = random.Random(2)
    old = [4.0 + rng.gauss(0, 0.3) for _ in range(400)]
    new = [4.4 + rng.gauss(0, 0.3) for _ in range(400)]
    low, high = median_difference_ci95(old, new)
    assert 0.2 < low < 0.4 < high < 0.6
