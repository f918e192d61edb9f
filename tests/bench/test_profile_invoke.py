"""The pure parts of bench/profile_invoke.py: stack parsing, idle filtering, classification
into hot-path parts, and the flame graph."""

from __future__ import annotations

from collections import Counter

from bench.profile_invoke import categorize, flame_svg, is_idle, parse_raw


def test_parse_raw_drops_process_and_thread_frames(tmp_path):
    raw = tmp_path / "c.txt"
    raw.write_text(
        "process 12:python;thread (0x1);main (cli/main.py:3);dumps (json/__init__.py:234) 7\n"
        "main (cli/main.py:3);dumps (json/__init__.py:234) 2\n"
        "garbage line\n"
    )
    stacks = parse_raw(raw)
    assert stacks == Counter({("main (cli/main.py:3)", "dumps (json/__init__.py:234)"): 9})


def test_leaf_most_matching_frame_decides_the_part():
    store_then_json = [
        "invoke (controller/invoke.py:10)",
        "execute (sqlalchemy/engine/base.py:1)",
        "dumps (json/__init__.py:234)",
    ]
    assert categorize(store_then_json) == "json encode/decode"
    assert categorize(store_then_json[:2]) == "record writes (store)"
    assert categorize(["check (controller/auth.py:40)"]) == "auth"
    assert categorize(["schedule (invoker/pool.py:200)"]) == "pool decision"
    assert categorize(["f (somewhere/else.py:1)"]) == "other"


def test_blocking_waits_are_idle_not_cpu():
    assert is_idle(("run (x.py:1)", "Condition.wait (threading.py:327)"))
    assert is_idle(("run (x.py:1)", "SocketIO.readinto (socket.py:706)"))
    assert not is_idle(("run (x.py:1)", "dumps (json/__init__.py:234)"))
    assert not is_idle(())


def test_flame_graph_widths_follow_sample_counts():
    stacks = Counter({("a", "b"): 3, ("a", "c"): 1})
    svg = flame_svg(stacks, "t", width=400)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "4 samples" in svg
    # b has 3 of the 4 samples: 300 px wide; c: 100 px
    assert 'width="300.0"' in svg and 'width="100.0"' in svg
