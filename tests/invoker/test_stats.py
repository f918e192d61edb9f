"""Pure tests of the live latency statistics sent with heartbeats."""

from invoker.stats import LatencyStats, StatsKey


def test_rolling_window_and_percentiles():
    stats = LatencyStats(window=10)
    key = StatsKey("guest/resize", "medium", 1.0, 512)
    for ms in range(1, 21):  # only the last 10 (11..20) are kept
        stats.record(key, float(ms))
    [entry] = stats.snapshot()
    assert entry == {
        "action": "guest/resize",
        "option": "medium",
        "cpu": 1.0,
        "memory": 512,
        "count": 10,
        "mean": 15.5,
        "p50": 15.5,  # interpolated, as the profiler's (common.stats.percentile)
        "p95": 19.55,
    }
