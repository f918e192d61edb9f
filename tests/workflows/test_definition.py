"""Workflow definition parsing, validation errors (exact paths), order, critical path, inputs."""

import pytest

from workflows.definition import (
    CriticalPath,
    Workflow,
    WorkflowError,
    build_node_input,
    from_dict,
    load,
    numeric_fields,
    parse_duration,
)

DIAMOND = """
name: thumbnails
slo: {latency: 2500ms, percentile: 99}
nodes:
  - id: merge
    action: thumbnails/merge
    after: [resize, classify]
  - id: decode
    action: thumbnails/decode
  - id: resize
    action: thumbnails/resize
    after: [decode]
    foreach: decode.tiles
  - id: classify
    action: thumbnails/classify
    after: [decode]
"""


def error_of(text: str, **kw) -> WorkflowError:
    with pytest.raises(WorkflowError) as e:
        load(text, **kw)
    return e.value


def test_load_parses_slo_and_orders_nodes_topologically():
    wf = load(DIAMOND)
    assert wf.name == "thumbnails"
    assert wf.slo_ms == 2500.0 and wf.percentile == 99.0
    assert wf.node_ids == ["decode", "resize", "classify", "merge"]
    assert wf.node("resize").foreach == "decode.tiles"
    assert wf.node("merge").depends == ["resize", "classify"]
    assert wf.sinks == ["merge"]
    assert wf.ancestors("merge") == ["decode", "resize", "classify"]


def test_to_json_round_trips():
    wf = load(DIAMOND)
    again = from_dict(wf.to_json())
    assert again == wf
    assert wf.to_json()["slo"] == {"latency": "2500ms", "percentile": 99.0}


@pytest.mark.parametrize("text,ms", [("2500ms", 2500.0), ("2.5s", 2500.0), ("1m", 60000.0)])
def test_durations_with_units(text, ms):
    assert parse_duration(text, "slo.latency") == ms


def test_percentile_defaults_to_99():
    wf = load("name: a\nslo: {latency: 1s}\nnodes: [{id: a, action: x}]")
    assert wf.percentile == 99.0


def test_critical_path_takes_the_longest_branch():
    wf = load(DIAMOND)
    cp = wf.critical_path({"decode": 100, "resize": 300, "classify": 200, "merge": 50})
    assert cp == CriticalPath(450.0, ["decode", "resize", "merge"])
    cp = wf.critical_path({"decode": 100, "resize": 10, "classify": 200, "merge": 50})
    assert cp == CriticalPath(350.0, ["decode", "classify", "merge"])


def base(nodes: str, slo: str = "{latency: 1s, percentile: 95}") -> str:
    return f"name: w\nslo: {slo}\nnodes:\n{nodes}"


@pytest.mark.parametrize(
    "text,path,fragment",
    [
        (
            base("  - {id: a, action: x, after: [b]}"),
            "nodes[0].after[0]",
            "unknown node 'b'; known nodes: a",
        ),
        (
            base("  - {id: a, action: x}\n  - {id: a, action: y}"),
            "nodes[1].id",
            "duplicate node id 'a' (first used at nodes[0])",
        ),
        (
            base(
                "  - {id: a, action: x, after: [c]}\n  - {id: b, action: x, after: [a]}\n"
                "  - {id: c, action: x, after: [b]}"
            ),
            "nodes[0].after[0]",
            "cycle: a -> b -> c -> a",
        ),
        (base("  - {id: a, action: x, after: [a]}"), "nodes[0].after[0]", "cycle: a -> a"),
        (
            base("  - {id: a, action: x}", "{latency: 2500}"),
            "slo.latency",
            "must be a positive duration with a unit (ms, s or m), e.g. 2500ms or 2.5s; got 2500",
        ),
        (
            base("  - {id: a, action: x}", "{latency: 0ms}"),
            "slo.latency",
            "must be a positive duration with a unit",
        ),
        (base("  - {id: a, action: x}", "{latency: 5 hours}"), "slo.latency", "got '5 hours'"),
        (
            base("  - {id: a, action: x}", "{latency: 1s, percentile: 101}"),
            "slo.percentile",
            "must be a number in (0, 100], e.g. 99; got 101",
        ),
        (
            base("  - {id: a, action: x}", "{latency: 1s, percentile: high}"),
            "slo.percentile",
            "got 'high'",
        ),
        (
            base("  - {id: a, action: x}", "{latency: 1s, p: 99}"),
            "slo.p",
            "unknown key 'p'; accepted: latency, percentile",
        ),
        (
            base("  - {id: a, action: x, retries: 3}"),
            "nodes[0].retries",
            "unknown key 'retries'; accepted: id, action, after, foreach, description",
        ),
        (
            "name: w\nslo: {latency: 1s}\nnodes: [{id: a, action: x}]\nowner: me",
            "owner",
            "unknown key 'owner'",
        ),
        (
            base(
                "  - {id: a, action: x}\n  - {id: b, action: x}\n"
                "  - {id: c, action: x, after: [a], foreach: b.items}"
            ),
            "nodes[2].foreach",
            "'b' is not a predecessor of 'c'; foreach must name a node in its 'after' list (a)",
        ),
        (
            base("  - {id: a, action: x}\n  - {id: b, action: x, after: [a], foreach: a}"),
            "nodes[1].foreach",
            "must be '<predecessor id>.<list field>'",
        ),
        (base("  - {id: 1a, action: x}"), "nodes[0].id", "a letter followed by"),
        (
            base("  - {id: a, action: 'a/b/c'}"),
            "nodes[0].action",
            "an action path 'action' or 'package/action'; got 'a/b/c'",
        ),
        (base("  - {id: a}"), "nodes[0].action", "required"),
        (base("  []").replace("nodes:\n  []", "nodes: []"), "nodes", "a non-empty list"),
        ("name: w\nnodes: [{id: a, action: x}]", "slo", "required"),
        ("name: 'bad name!'\nslo: {latency: 1s}\nnodes: [{id: a, action: x}]", "name", "required"),
    ],
)
def test_validation_errors_name_path_and_what_is_accepted(text, path, fragment):
    e = error_of(text)
    assert e.path == path
    assert fragment in e.message


def test_unknown_action_is_rejected_when_a_checker_is_given():
    text = base("  - {id: a, action: pkg/known}\n  - {id: b, action: pkg/missing, after: [a]}")
    e = error_of(text, action_exists=lambda path: path == "pkg/known")
    assert e.path == "nodes[1].action"
    assert e.message == "action 'pkg/missing' does not exist in this namespace; deploy it first"
    assert load(text, action_exists=lambda path: True).node_ids == ["a", "b"]


def test_error_message_names_file_and_yaml_position():
    e = error_of("name: w\nslo: {latency: 1s\n", filename="wf.yaml")
    assert e.filename == "wf.yaml" and e.path.startswith("line ")
    assert str(e).startswith("wf.yaml: line ")
    e = error_of(base("  - {id: a, action: x, after: [z]}"), filename="wf.yaml")
    assert str(e) == "wf.yaml: nodes[0].after[0]: unknown node 'z'; known nodes: a"


# ------------------------------------------------------------------------ node inputs


def chain() -> Workflow:
    return load(base("  - {id: a, action: x}\n  - {id: b, action: y, after: [a]}"))


def test_source_node_gets_run_input_and_chain_passes_output_through():
    wf = chain()
    assert build_node_input(wf, "a", {"n": 1}, {}) == {"n": 1}
    assert build_node_input(wf, "b", {"n": 1}, {"a": {"m": 2}}) == {"m": 2}


def test_fan_in_keys_outputs_by_id_plus_run_input():
    wf = load(DIAMOND)
    outputs = {"decode": {"tiles": [1]}, "resize": [{"t": 1}], "classify": {"label": "cat"}}
    assert build_node_input(wf, "merge", {"seed": 7}, outputs) == {
        "resize": [{"t": 1}],
        "classify": {"label": "cat"},
        "_input": {"seed": 7},
    }


def test_foreach_gives_one_input_per_item_without_copying_the_list():
    wf = load(DIAMOND)
    outputs = {"decode": {"tiles": [{"x": 0}, {"x": 64}], "scale": 2}}
    items = build_node_input(wf, "resize", {}, outputs)
    assert items == [
        {"scale": 2, "item": {"x": 0}, "index": 0},
        {"scale": 2, "item": {"x": 64}, "index": 1},
    ]
    assert outputs["decode"]["tiles"] == [{"x": 0}, {"x": 64}]  # not mutated


def test_foreach_on_nested_field_with_fan_in():
    wf = load(
        base(
            "  - {id: a, action: x}\n  - {id: b, action: x}\n"
            "  - {id: c, action: x, after: [a, b], foreach: a.plan.chunks}"
        )
    )
    outputs = {"a": {"plan": {"chunks": [10, 20], "fps": 5}}, "b": {"k": 1}}
    items = build_node_input(wf, "c", {"r": 0}, outputs)
    assert items[1] == {
        "a": {"plan": {"fps": 5}},
        "b": {"k": 1},
        "_input": {"r": 0},
        "item": 20,
        "index": 1,
    }
    assert outputs["a"]["plan"]["chunks"] == [10, 20]


def test_single_foreach_predecessor_is_keyed_by_id():
    wf = load(
        base(
            "  - {id: a, action: x}\n  - {id: b, action: x, after: [a], foreach: a.xs}\n"
            "  - {id: c, action: x, after: [b]}"
        )
    )
    assert build_node_input(wf, "c", {"r": 0}, {"a": {}, "b": [{"y": 1}, {"y": 2}]}) == {
        "b": [{"y": 1}, {"y": 2}],
        "_input": {"r": 0},
    }


def test_foreach_field_that_is_not_a_list_is_an_error():
    wf = load(DIAMOND)
    with pytest.raises(ValueError, match="foreach decode.tiles: expected a list, got int"):
        build_node_input(wf, "resize", {}, {"decode": {"tiles": 3}})
    with pytest.raises(ValueError, match="no field 'tiles'"):
        build_node_input(wf, "resize", {}, {"decode": {}})


def test_node_not_ready_is_an_error():
    with pytest.raises(ValueError, match="waiting for a"):
        build_node_input(chain(), "b", {}, {})


def test_numeric_fields_flatten_for_hint_rules():
    fields = numeric_fields(
        {"width": 640, "ok": True, "name": "x", "item": {"frames": 32}, "tiles": [1, 2, 3]}
    )
    assert fields == {"width": 640.0, "item.frames": 32.0, "tiles.length": 3.0}


@pytest.mark.parametrize(
    "text,path,fragment",
    [
        ("[]", "", "a workflow definition must be a mapping with keys name, description"),
        ("name: w\nslo: [1]\nnodes: [{id: a, action: x}]", "slo", "a mapping like"),
        ("name: w\nslo: {}\nnodes: [{id: a, action: x}]", "slo.latency", "required; a positive"),
        ("name: w\nslo: {latency: 1s}\nnodes: [3]", "nodes[0]", "a node must be a mapping"),
        (base("  - {id: a, action: x, after: [3]}"), "nodes[0].after", "a list of node ids"),
        (base("  - {id: a, action: x, description: 3}"), "nodes[0].description", "a string"),
        (base("  - {id: a, action: x}", "{latency: 1s, percentile: true}"), "slo.percentile", ""),
        # the first problem in reading order wins: unknown keys before the fields they sit beside
        (base("  - {id: 3, zz: 1}"), "nodes[0].zz", "unknown key 'zz'"),
        ("name: bad name\nslo: {latency: -1s}\nnodes: []", "name", "required; letters"),
    ],
)
def test_schema_errors_keep_their_messages_and_reading_order(text, path, fragment):
    e = error_of(text)
    assert e.path == path
    assert fragment in e.message


def test_null_descriptions_and_foreach_are_accepted():
    wf = load(
        "name: w\ndescription: null\nslo: {latency: 1s}\n"
        "nodes: [{id: a, action: x, description: null, foreach: null}]"
    )
    assert wf.description is None and wf.nodes[0].foreach is None
