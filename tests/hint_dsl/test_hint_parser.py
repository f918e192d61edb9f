"""Parser: valid hint files become the expected trees; syntax errors point at line:column."""

import pytest

import hint_dsl
from hint_dsl import ast
from hint_dsl.errors import HintError


def test_design_example_parses_to_expected_tree(design_example):
    h = hint_dsl.parse(design_example)
    assert h.header.name == "thumbnails"
    assert h.header.slo_ms == 2500.0 and h.header.percentile == 99.0
    assert [o.size.to_json() for o in h.options] == [
        {"cpu": 0.5, "memory": 256, "option": "small"},
        {"cpu": 1.0, "memory": 512, "option": "medium"},
        {"cpu": 2.0, "memory": 1024, "option": "large"},
    ]
    resize = h.function("resize")
    assert [r.option for r in resize.rules] == ["large", "large", "small", "medium"]
    second = resize.rules[1].condition
    assert isinstance(second, ast.BoolOp) and second.op == "and"
    size_test = second.operands[0]
    assert size_test.left.path == ("input", "bytes") and size_test.op == ">"
    assert size_test.right.canonical == 4 * 1024**2
    assert resize.rules[-1].condition is None
    up = h.function("classify").rules[0].condition.left
    assert up.path == ("upstream", "resize", "duration") and up.function == "resize"


def test_precedence_not_binds_tighter_than_and_than_or():
    h = hint_dsl.parse(
        "workflow w slo 1s\noption a cpu 1 memory 1GB\nfunction f\n"
        "  when not remaining < 1s or elapsed > 2s and input.x == 3 use a\n"
    )
    cond = h.functions[0].rules[0].condition
    assert cond.op == "or"
    assert isinstance(cond.operands[0], ast.Not)
    assert cond.operands[1].op == "and"


def test_parentheses_comments_units_and_wrapped_lines():
    text = (
        "workflow w slo 2.5s p95   # seconds and p95\n"
        "option a cpu 1 memory 512KB\n"
        "function f\n"
        "  when (remaining < 0.5s or\n"
        "        input.item.frames >= 10) and stats.f.p95 > 100ms use a  # wrapped\n"
        "  otherwise use a\n"
    )
    h = hint_dsl.parse(text)
    assert h.header.slo_ms == 2500.0 and h.header.percentile == 95.0
    cond = h.functions[0].rules[0].condition
    assert cond.op == "and" and cond.operands[0].op == "or"
    assert cond.operands[0].operands[1].left.field == "item.frames"
    assert cond.operands[1].left.path == ("stats", "f", "p95")
    assert len(h.functions[0].rules) == 2


@pytest.mark.parametrize(
    "text, line, column, message",
    [
        (
            "workflow w slo 1s\noption a cpu 1 memory 1GB\nfunction f\n  when remaining < 1s use >\n",
            4,
            27,
            "expected an option name after 'use', got '>'",
        ),
        (
            "workflow w slo 1s\nfunction f\n  when remaining 5ms use a\n",
            3,
            18,
            "expected a comparison (<, <=, >, >=, ==, !=) after 'remaining', got '5ms'",
        ),
        (
            "workflow w slo 1s\nfunction f\n  when (remaining < 5ms use a\n",
            3,
            25,
            "expected ')' to close the '(' at line 3, column 8, got 'use'",
        ),
        (
            "workflow w slo 1s\nfunction f\n  when remaining < 5ms\n",
            3,
            23,
            "expected 'use' after the condition, got end of line",
        ),
        (
            "workflow w slo 1s\nfunction f\n  when stats.f.p97 > 5ms use a\n",
            3,
            16,
            "expected a statistic (p50, p95, p99, mean) after 'stats.f.', got 'p97'",
        ),
        (
            "workflow w slo 1s\nfunction f\n  when upstream.g.time > 5ms use a\n",
            3,
            19,
            "expected 'duration' after 'upstream.g.', got 'time'",
        ),
        (
            "workflow w slo 1s\n  when remaining < 5ms use a\n",
            2,
            3,
            "'when' rule outside a function block: add a 'function NAME' line above it",
        ),
        (
            "workflow w slo 1s\noption a cpu 1\n",
            2,
            15,
            "expected 'memory' after the cpu count, got end of line",
        ),
        (
            "workflow w slo 1s\nrule f\n",
            2,
            1,
            "expected a statement ('workflow', 'option', 'function', 'when' or 'otherwise'), got 'rule'",
        ),
        (
            "workflow w slo 1s\nfunction f\n  when remaining = 5ms use a\n",
            3,
            18,
            "unexpected character '=' (use '==' to compare)",
        ),
        (
            "workflow w slo 1s\nfunction f\n  when budget < 5ms use a\n",
            3,
            8,
            "expected a variable (remaining, elapsed, input.<field>, upstream.<fn>.duration, "
            "stats.<fn>.p50|p95|p99|mean) or a number, got 'budget'",
        ),
    ],
)
def test_syntax_errors_point_at_line_and_column(text, line, column, message):
    with pytest.raises(HintError) as e:
        hint_dsl.parse(text, filename="hints.txt")
    assert (e.value.line, e.value.column, e.value.message) == (line, column, message)
    assert str(e.value) == f"hints.txt:{line}:{column}: {message}"


def test_parser_recovers_and_reports_every_syntax_error():
    text = (
        "workflow w slo 1s\noption a cpu 1 memory 1GB\nfunction f\n"
        "  when remaining < use a\n"
        "  when remaining < 5ms use\n"
        "  otherwise use a\n"
    )
    diags = hint_dsl.check(text)
    assert [(d.line, d.column) for d in diags if d.severity == "error"] == [(4, 20), (5, 27)]


def test_format_round_trips_design_example(design_example):
    h = hint_dsl.parse(design_example)
    text = hint_dsl.format(h)
    again = hint_dsl.parse(text)
    assert again == h
    assert hint_dsl.format(again) == text


def test_format_keeps_parentheses_that_change_meaning():
    text = (
        "workflow w slo 1s p99.9\noption a cpu 0.25 memory 128MB\nfunction f\n"
        "  when (remaining < 1s or elapsed > 2s) and not (input.x != 3 and input.bytes <= 1KB)"
        " use a\n"
    )
    h = hint_dsl.parse(text)
    printed = hint_dsl.format(h)
    assert (
        "(remaining < 1s or elapsed > 2s) and not (input.x != 3 and input.bytes <= 1KB)" in printed
    )
    assert "p99.9" in printed
    assert hint_dsl.parse(printed) == h


def test_trees_differing_only_in_positions_are_equal():
    a = hint_dsl.parse("workflow w slo 1s\noption a cpu 1 memory 1GB\n")
    b = hint_dsl.parse("\n\nworkflow   w   slo 1s\n   option a cpu 1 memory 1GB  # c\n")
    assert a == b
