"""The stage profiler runs on a CPU (tiny preset, no-op partitioner) and writes usable tables."""

from runtimes.vlm import profile_stages
from runtimes.vlm.scheduler import StageTables, build_frontier, make_policy
from runtimes.vlm.scheduler.simulate import bursty_arrivals, simulate


def test_profile_tiny_on_cpu_writes_tables_the_policies_accept(tmp_path):
    out = tmp_path / "tables.json"
    rc = profile_stages.main(
        [
            "--preset",
            "tiny",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--sms",
            "16,48",
            "--patches",
            "16,64",
            "--tokens",
            "8,32",
            "--batches",
            "1,2",
            "--ctx",
            "16",
            "--iters",
            "1",
            "--corun-reps",
            "1",
        ]
    )
    assert rc == 0
    t = StageTables.load(out)
    assert t.total_sms == 132 and t.meta["derived"] is False and t.meta["preset"] == "tiny"
    assert t.solo["vision"].sms == (16, 48, 132) and t.solo["decode"].sizes == (1, 2)
    assert t.solo["vision"].sizes == (16, 64)  # even patch grids: 4x4 and 8x8
    assert set(t.corun) == {"decode|vision", "decode|prefill", "vision|decode", "prefill|decode"}
    assert t.corun["decode|vision"].sms == (16, 48) and t.corun["vision|decode"].sms == (84, 116)
    assert all(f >= 1.0 for f in t.shared.values())
    assert "profile_stages" in t.meta["command"]
    build_frontier(t, "vision", 64, decode_batch=2)
    result = simulate(make_policy("nova", t, max_batch=2), t, bursty_arrivals(10, 5.0, seed=3))
    assert len(result.requests) == 10
