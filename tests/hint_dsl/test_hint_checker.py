"""Checker: every class of validation error is reported, all at once, at the right place."""

import pytest

import hint_dsl
from hint_dsl.errors import HintError

HEAD = "workflow w slo 2s\noption small cpu 0.5 memory 256MB\noption large cpu 2 memory 1GB\n"


def errors(text, functions=None):
    return [
        (d.line, d.column, d.message)
        for d in hint_dsl.check(text, functions)
        if d.severity == "error"
    ]


def warnings(text, functions=None):
    return [
        (d.line, d.column, d.message)
        for d in hint_dsl.check(text, functions)
        if d.severity == "warning"
    ]


def test_design_example_is_clean(design_example):
    assert hint_dsl.check(design_example, ["resize", "classify"]) == []


def test_unknown_option_lists_declared_ones():
    text = HEAD + "function f\n  when remaining < 1s use huge\n  otherwise use small\n"
    assert errors(text) == [(5, 27, "unknown option 'huge' (declared options: small, large)")]


def test_unknown_function_in_block_and_in_variables():
    text = HEAD + (
        "function g\n  otherwise use small\nfunction f\n"
        "  when upstream.x.duration > 1s or stats.y.p95 > 1s use large\n"
        "  otherwise use small\n"
    )
    assert errors(text, ["f"]) == [
        (4, 10, "unknown function 'g' (workflow functions: f)"),
        (7, 8, "unknown function 'x' (workflow functions: f)"),
        (7, 36, "unknown function 'y' (workflow functions: f)"),
    ]
    assert errors(text) == []  # without a function list names are not checked


def test_duplicates_and_workflow_line():
    text = (
        HEAD + "workflow w2 slo 3s\noption small cpu 1 memory 1GB\n"
        "function f\n  otherwise use small\nfunction f\n  otherwise use large\n"
    )
    assert errors(text) == [
        (4, 1, "duplicate 'workflow' line (first on line 1); a hint file belongs to one workflow"),
        (5, 8, "duplicate option 'small' (first defined on line 2)"),
        (8, 10, "duplicate function 'f' (first defined on line 6)"),
    ]
    assert errors("option a cpu 1 memory 1GB\n") == [
        (
            1,
            1,
            "expected a 'workflow NAME slo TIME [pNN]' line, e.g. "
            "'workflow thumbnails slo 2500ms p99'",
        )
    ]


def test_rule_after_otherwise_is_unreachable():
    text = HEAD + "function f\n  otherwise use small\n  when remaining < 1s use large\n"
    assert errors(text) == [(6, 3, "unreachable rule: it comes after 'otherwise' on line 5")]


@pytest.mark.parametrize(
    "earlier, later",
    [
        ("remaining < 900ms", "remaining < 500ms"),
        ("remaining < 0.9s", "remaining < 900ms and remaining > 100ms"),
        ("remaining >= 1s", "remaining > 1500ms and input.bytes > 1MB"),
        ("input.bytes > 4MB or input.bytes < 1KB", "input.bytes > 5MB"),
        ("elapsed != 5ms", "elapsed > 5ms"),
    ],
)
def test_rule_implied_by_earlier_rule_is_unreachable(earlier, later):
    text = (
        HEAD
        + f"function f\n  when {earlier} use large\n  when {later} use small\n  otherwise use small\n"
    )
    errs = errors(text)
    assert len(errs) == 1 and errs[0][:2] == (6, 3)
    assert "unreachable rule" in errs[0][2] and "line 5" in errs[0][2]


def test_union_of_earlier_rules_covers_later_rule():
    text = HEAD + (
        "function f\n  when remaining < 500ms use large\n  when remaining >= 500ms and "
        "remaining < 1s use small\n  when remaining < 800ms use small\n  otherwise use small\n"
    )
    assert errors(text) == [
        (
            7,
            3,
            "unreachable rule: every value of 'remaining' it accepts is "
            "already taken by the rule(s) on line 5, 6",
        )
    ]


@pytest.mark.parametrize(
    "earlier, later",
    [
        ("remaining < 500ms", "remaining < 900ms"),
        ("remaining < 900ms", "remaining <= 900ms"),
        ("remaining < 900ms and input.bytes > 1MB", "remaining < 500ms"),  # earlier is narrower
        ("upstream.f.duration > elapsed", "upstream.f.duration > 1s"),
    ],
)
def test_reachable_rules_are_not_flagged(earlier, later):
    text = (
        HEAD
        + f"function f\n  when {earlier} use large\n  when {later} use small\n  otherwise use small\n"
    )
    assert errors(text) == []


def test_contradictory_condition():
    text = (
        HEAD
        + "function f\n  when remaining < 100ms and remaining > 200ms use large\n  otherwise use small\n"
    )
    assert errors(text) == [
        (5, 3, "condition can never be true: no value of 'remaining' satisfies it")
    ]


def test_unit_mistakes():
    text = (
        "workflow w slo 4MB\noption a cpu 0 memory 256\noption b cpu 1GB memory 1GB\n"
        "option c cpu 1 memory 12KB\n"
        "function f\n"
        "  when remaining > 4MB use a\n"
        "  when input.bytes < 300ms use a\n"
        "  when remaining < 900 use a\n"
        "  when input.width > 3s use a\n"
        "  when 3ms < 5ms use a\n"
        "  when elapsed < 3xs use a\n"
        "  otherwise use a\n"
    )
    assert errors(text) == [
        (1, 16, "the SLO must be a time (ms, s), got '4MB'"),
        (2, 14, "cpu must be greater than 0 cores, got 0"),
        (2, 23, "memory needs a size unit (B, KB, MB, GB), e.g. '256MB', got '256'"),
        (3, 14, "cpu is a plain number of cores (e.g. 0.5), got '1GB'"),
        (4, 23, "memory must be at least 1MB, got 12KB"),
        (6, 20, "'remaining' is a time (ms, s) but '4MB' is a size (B, KB, MB, GB)"),
        (7, 22, "'input.bytes' is a size (B, KB, MB, GB) but '300ms' is a time (ms, s)"),
        (8, 20, "'remaining' is a time (ms, s): write a unit, e.g. 900ms"),
        (9, 22, "'input.width' is a plain number but '3s' is a time (ms, s)"),
        (
            10,
            8,
            "comparison of two constants; one side must be a variable (remaining, elapsed, "
            "input.<field>, upstream.<fn>.duration, stats.<fn>.<stat>)",
        ),
        (11, 18, "unknown unit 'xs' in '3xs' (time: ms, s; size: B, KB, MB, GB)"),
    ]


def test_missing_otherwise_is_a_warning_not_an_error():
    text = HEAD + "function f\n  when remaining < 1s use large\n"
    assert errors(text) == []
    assert warnings(text) == [
        (
            4,
            1,
            "function 'f' has no 'otherwise' rule; when no rule matches "
            "the adapter uses the largest option and flags the request at-risk",
        )
    ]
    hint_dsl.compile(text)  # warnings do not stop compilation


def test_compile_raises_first_error_with_all_diagnostics():
    text = HEAD + "function f\n  when remaining > 4MB use huge\n  otherwise use small\n"
    with pytest.raises(HintError) as e:
        hint_dsl.compile(text)
    assert (e.value.line, e.value.column) == (5, 20)
    assert len(e.value.diagnostics) == 2


def test_language_reference_example_is_clean():
    import pathlib

    readme = (pathlib.Path(hint_dsl.__file__).parent / "README.md").read_text()
    example = readme.split("```\n")[1]
    assert hint_dsl.check(example, ["resize"]) == []
