"""Workload shapes from profiles, the speed-up fit that extrapolates unmeasured options, and
the Azure-shaped arrivals."""

from __future__ import annotations

import random

import pytest

from common.sizes import Size
from hint_dsl.profiles import Profiles, Sample
from janus_sim import (
    azure_like,
    fit_curves,
    leave_one_option_out,
    nearest_shape,
    shapes_from_profiles,
)
from janus_sim.arrivals import inter_arrival_cv
from janus_sim.speedup import fit_serial_fraction, shape

from .conftest import OPTIONS, amdahl, make_profiles

XL = Size(4.0, 4096, "xl")


def test_shapes_keep_every_repeat_and_the_input_the_adapter_sees(chain):
    prof = make_profiles(chain, {"a": 200, "b": 300}, runs=2, repeats=3, jitter=0.1)
    shapes = shapes_from_profiles(chain, prof)
    assert [s.run for s in shapes] == [0, 1]
    act = shapes[1].nodes["b"][0]
    assert act.features == {"rows": 2000.0} and act.input_bytes == 200
    assert len(act.latencies["small"]) == 3
    assert act.duration_ms("small", 0.0) < act.duration_ms("small", 0.99)
    assert nearest_shape(shapes, {"rows": 1900}).run == 1
    assert nearest_shape(shapes, {"rows": 900}).run == 0
    with pytest.raises(ValueError, match="no numeric field"):
        nearest_shape(shapes, {"name": "x"})


def test_foreach_items_become_one_activation_each():
    from workflows.definition import load

    wf = load(
        "name: fan\nslo: {latency: 1s, percentile: 99}\nnodes:\n"
        "  - {id: split, action: fan/split}\n"
        "  - {id: work, action: fan/work, after: [split], foreach: split.items}\n"
    )
    p = Profiles("fan", {o.option: o for o in OPTIONS})
    for o in OPTIONS:
        p.add(Sample("split", o.option, 10.0, 10, 0, 0, None, {}))
        for i in range(3):
            p.add(Sample("work", o.option, 100.0 + i, 10, 0, 0, i, {"item.frames": 5.0 + i}))
    (shape_,) = shapes_from_profiles(wf, p)
    assert len(shape_.nodes["work"]) == 3
    assert shape_.nodes["work"][2].features == {"item.frames": 7.0}


@pytest.mark.parametrize("s", [0.0, 0.3, 0.8])
def test_the_amdahl_fit_recovers_the_serial_fraction_and_extrapolates(chain, s):
    prof = make_profiles(chain, {"a": 200, "b": 300}, serial=s, runs=3, options=(*OPTIONS, XL))
    loo = leave_one_option_out(prof)
    # with the 4-core option left out, 1 and 2 cores still identify s: exact prediction
    assert loo["a"]["xl"]["identified"]
    assert loo["a"]["xl"]["max_abs_error"] < 0.01
    # 2 cores left out: 1 and 4 still identify s
    assert loo["b"]["large"]["max_abs_error"] < 0.01
    # extrapolated options are labelled and follow the curve
    measured = make_profiles(chain, {"a": 200, "b": 300}, serial=s, runs=1)
    curves = fit_curves(measured)
    assert curves["a"].serial_fraction == pytest.approx(s, abs=0.002)
    predicted = curves["a"].predict_from(
        {"medium": [200.0]}, {"medium": OPTIONS[1], "xl": XL}, "xl"
    )
    assert predicted == pytest.approx(amdahl(200, s, 4.0), rel=0.01)


def test_options_below_one_core_do_not_identify_the_serial_fraction():
    assert shape(0.0, 0.5) == shape(0.9, 0.5) == 2.0
    assert fit_serial_fraction([(0.5, 1.0, 2.0)]) == (0.0, False)


def test_azure_like_arrivals_are_heavy_tailed_diurnal_and_bursty(chain):
    shapes = shapes_from_profiles(chain, make_profiles(chain, {"a": 1, "b": 1}))
    rng = random.Random(4)
    arrivals = azure_like(50.0, 20_000, [shapes] * 6, rng)
    assert abs(len(arrivals) - 20_000) < 2_000  # the mean rate is kept
    per_tenant = sorted(sum(a.tenant == t for a in arrivals) for t in range(6))
    assert per_tenant[-1] > 5 * per_tenant[len(per_tenant) // 2]  # one workflow dominates
    busiest = max(range(6), key=lambda t: sum(a.tenant == t for a in arrivals))
    times = [a.time_ms for a in arrivals if a.tenant == busiest]
    assert inter_arrival_cv(times) > 1.2  # burstier than Poisson (CV 1)
    span = arrivals[-1].time_ms
    first_half = sum(a.time_ms < span / 2 for a in arrivals)
    assert first_half > 0.52 * len(arrivals)  # the peak of the day is in its first half (sine)


def test_a_half_core_quota_throttles_only_runs_longer_than_its_share_of_a_period():
    from janus_sim.speedup import t1_from, throttled_ms, time_at

    assert throttled_ms(30.0, 0.5) == 30.0  # within the 50 ms a 100 ms period allows
    assert throttled_ms(80.0, 0.5) == 130.0  # 50 ms, wait until 100 ms, then 30 ms more
    assert throttled_ms(100.0, 0.5) == 150.0
    assert throttled_ms(1000.0, 0.5) == pytest.approx(1950.0)  # about T1 / c when long
    for t1 in (10.0, 75.0, 640.0):
        assert t1_from(time_at(t1, 0.3, 0.5), 0.3, 0.5) == pytest.approx(t1, rel=1e-6)
