"""M/G/1 moments and waiting time, threshold α derivation, arrival-rate estimator."""

import math

import pytest

from runtimes.vlm.scheduler.queueing import (
    ArrivalRateEstimator,
    LatencyModel,
    RequestShape,
    pk_wait_ms,
    service_moments,
)
from runtimes.vlm.scheduler.tables import default_tables

DESKTOP = RequestShape(5184, 1360, 55)
PHONE = RequestShape(2484, 690, 55)


def test_service_moments_over_the_mix():
    t = default_tables()
    one = service_moments(t, 48, [DESKTOP])
    s = t.interp("vision", 84, 5184, "decode") + t.interp("prefill", 84, 1360, "decode")
    assert one.mean_ms == pytest.approx(s)
    assert one.second_ms2 == pytest.approx(s * s)
    mixed = service_moments(t, 48, [DESKTOP, PHONE])
    assert mixed.second_ms2 > mixed.mean_ms**2  # a mix has variance
    assert 0 < mixed.vision_share < 1
    with pytest.raises(ValueError, match="empty"):
        service_moments(t, 48, [])


def test_pollaczek_khinchine_matches_md1_and_blows_up_at_saturation():
    m = service_moments(default_tables(), 48, [DESKTOP])
    rate = 0.5 * 1000.0 / m.mean_ms  # ρ = 0.5
    # M/D/1 (deterministic service): W = ρ S / (2 (1 - ρ)) = S / 2 at ρ = 0.5
    assert pk_wait_ms(rate, m) == pytest.approx(m.mean_ms / 2)
    assert pk_wait_ms(2 * rate, m) == math.inf


def alpha(rate, mix, tables=None):
    return LatencyModel(tables or default_tables(), tuple(mix), rate).alpha(sm_op=48, sm_min=16)


def test_alpha_is_one_when_the_operating_point_cannot_keep_up():
    t = default_tables()
    capacity = 1000.0 / service_moments(t, 48, [DESKTOP]).mean_ms
    assert alpha(capacity * 1.05, [DESKTOP]) == 1
    assert alpha(capacity * 0.9, [DESKTOP]) > 1


def test_alpha_grows_with_arrival_rate_while_the_operating_point_is_stable():
    # The model: a request already decoding has waited longer at higher load, so slowing its
    # remaining decode (SM_min) only pays off behind a longer queue.
    t = default_tables()
    capacity = 1000.0 / service_moments(t, 48, [DESKTOP]).mean_ms
    alphas = [alpha(capacity * f, [DESKTOP]) for f in (0.1, 0.5, 0.7, 0.85, 0.95)]
    assert alphas == sorted(alphas)
    assert alphas[-1] > alphas[0]


def test_larger_images_reach_the_switch_at_a_lower_arrival_rate():
    # Larger images load the compute stage more: at the same rate α is higher (busier normal
    # queue) until SM_op saturates, and then it drops to 1 while small images still see > 1.
    small, large = [PHONE], [RequestShape(10368, 2656, 55)]
    t = default_tables()
    cap_large = 1000.0 / service_moments(t, 48, large).mean_ms
    moderate = 0.7 * cap_large
    assert alpha(moderate, large) >= alpha(moderate, small)
    assert alpha(1.1 * cap_large, large) == 1 < alpha(1.1 * cap_large, small)


def test_worst_latency_is_lower_at_sm_min_beyond_alpha_and_not_before():
    m = LatencyModel(default_tables(), (DESKTOP,), 12.0)
    a = m.alpha(48, 16)
    assert a is not None and a > 1
    assert m.worst_queued_latency_ms(a, 16, 48) < m.worst_queued_latency_ms(a, 48, 48)
    assert m.worst_queued_latency_ms(a - 1, 16, 48) >= m.worst_queued_latency_ms(a - 1, 48, 48)


def test_arrival_rate_estimator_tracks_rate_and_decays_in_silence():
    est = ArrivalRateEstimator(weight=0.5)
    assert est.rate_per_s(0.0) == 0.0
    for i in range(20):
        est.observe(i * 100.0)  # 10 requests per second
    assert est.rate_per_s(1900.0) == pytest.approx(10.0)
    assert est.rate_per_s(1900.0 + 5000.0) < 1.0  # a long silence counts
    for i in range(20):
        est.observe(10000.0 + i * 20.0)  # a burst at 50/s
    assert est.rate_per_s() == pytest.approx(50.0, rel=0.01)
    with pytest.raises(ValueError):
        ArrivalRateEstimator(weight=0)
