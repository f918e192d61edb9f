"""Stage tables: interpolation over SM count and size, co-run/shared lookups, JSON round trip."""

import json

import pytest

from runtimes.vlm.scheduler.tables import Grid, StageTables, default_tables


def inverse_grid():
    # time = 1000 * size / sms exactly: interpolation in 1/sms and size must reproduce it
    sms, sizes = (8, 16, 32, 64), (1, 2, 4)
    return Grid(sms, sizes, tuple(tuple(1000.0 * z / s for z in sizes) for s in sms))


def test_interpolation_is_exact_for_inverse_sm_scaling():
    g = inverse_grid()
    assert g.at(24, 3) == pytest.approx(1000 * 3 / 24)
    assert g.at(48, 1.5) == pytest.approx(1000 * 1.5 / 48)
    assert g.at(200, 2) == pytest.approx(1000 * 2 / 64)  # clamped to the largest measured share
    assert g.at(16, 8) == pytest.approx(1000 * 8 / 16)  # linear extrapolation in size


def test_grid_rejects_bad_axes():
    with pytest.raises(ValueError, match="ascending"):
        Grid((16, 8), (1,), ((1.0,), (2.0,)))
    with pytest.raises(ValueError, match="rows"):
        Grid((8, 16), (1,), ((1.0,),))


def test_corun_and_shared_lookups():
    t = default_tables()
    alone = t.interp("decode", 48, 8)
    assert t.interp("decode", 48, 8, "vision") > alone
    assert t.interp("decode", None, 8, "vision") == pytest.approx(
        t.interp("decode", 132, 8) * 18.1 / 3.60
    )
    assert t.interp("decode", None, 8) == pytest.approx(t.interp("decode", 132, 8))
    assert t.interp("vision", 132, 5184) == pytest.approx(28.8)  # the probe's measured value
    with pytest.raises(ValueError, match="unknown stage"):
        t.interp("encode", 48, 1)


def test_json_round_trip(tmp_path):
    t = default_tables()
    path = tmp_path / "tables.json"
    t.save(path)
    back = StageTables.load(path)
    assert back.to_json() == t.to_json()
    assert back.meta["derived"] is True
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="format"):
        StageTables.load(path)
    with pytest.raises(ValueError, match="lack solo"):
        StageTables(132, solo={"vision": inverse_grid()})
