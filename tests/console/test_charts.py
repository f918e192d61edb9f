"""Server-side SVG drawings: structure and escaping."""

import re

from controller.console import charts


def test_dag_layers_follow_the_longest_path():
    nodes = [
        {"id": "a"},
        {"id": "b", "after": ["a"]},
        {"id": "c", "after": ["a"]},
        {"id": "d", "after": ["b", "c"]},
        {"id": "e", "after": ["a", "d"]},
    ]
    assert charts.dag_layers(nodes) == [["a"], ["b", "c"], ["d"], ["e"]]


def test_dag_svg_has_a_box_per_node_an_edge_per_dependency_and_escapes_names():
    wf = {
        "name": "w",
        "nodes": [
            {"id": "a", "action": "p/<x>"},
            {"id": "b", "action": "p/y", "after": ["a"]},
            {"id": "c", "action": "p/z", "after": ["a", "b"], "foreach": "b.items"},
        ],
    }
    svg = str(charts.dag_svg(wf, {"a": "success", "b": "failed"}))
    assert svg.count('class="node"') == 3 and svg.count('class="edge"') == 3
    assert "p/&lt;x&gt;" in svg and "<x>" not in svg and "c (foreach)" in svg
    assert 'fill="#dc2626"' in svg  # the failed node


def test_timeline_bars_scale_to_the_run_and_mark_the_slo():
    tl = {
        "runId": "r",
        "duration": 400,
        "sloMs": 800,
        "rows": [
            {
                "id": "a",
                "status": "success",
                "offset": 0,
                "length": 200,
                "size": {"cpu": 1, "memory": 256, "option": "small"},
                "remainingMs": 800.0,
            },
            {
                "id": "b",
                "status": "success",
                "offset": 200,
                "length": 200,
                "size": None,
                "remainingMs": 600.0,
            },
        ],
    }
    svg = str(charts.timeline_svg(tl, width=760))
    widths = [float(w) for w in re.findall(r'class="bar" x="[\d.]+" y="\d+" width="([\d.]+)"', svg)]
    assert len(widths) == 2 and abs(widths[0] - widths[1]) < 0.01 and abs(widths[0] - 592 / 4) < 0.1
    assert "small 1 cpu/256 MB · 800 ms left" in svg and "SLO 800 ms" in svg


def test_line_chart_draws_a_series_each_and_dashes_baselines():
    svg = str(
        charts.line_chart_svg(
            {"late": [(0, 1.0), (10, 2.0)], "early-max": [(0, 4.0)]},
            "core-s",
            dashed=("early-max",),
        )
    )
    assert svg.count("<polyline") == 2 and 'data-series="early-max"' in svg
    assert svg.count('stroke-dasharray="6 4"') == 2  # the baseline's line and its legend
    assert "no data yet" in str(charts.line_chart_svg({}, "core-s"))


def test_bar_chart_lengths_are_proportional():
    svg = str(charts.bar_chart_svg([("a", 1.0), ("b", 2.0)], "core-s"))
    w = [float(x) for x in re.findall(r'<rect x="130" y="[\d.]+" width="([\d.]+)"', svg)]
    assert abs(w[1] - 2 * w[0]) < 0.01


def test_axis_tops_are_round_numbers():
    assert [charts.nice_ceiling(v) for v in (0.314, 0.0784, 3, 7.5, 100, 0)] == [
        0.5,
        0.1,
        5,
        10,
        100,
        1.0,
    ]
    assert charts.ticks(2.5) == [0, 0.5, 1.0, 1.5, 2.0, 2.5] and charts.ticks(2) == [
        0,
        0.5,
        1.0,
        1.5,
        2.0,
    ]
