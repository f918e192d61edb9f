"""Hint options that set node parameters (`option ... with max_tokens 16 max_pixels 200704`):
parsed, printed back, carried by the option's Size, refused with a precise message when wrong."""

import pytest

from common.sizes import Size
from hint_dsl import format as format_hints
from hint_dsl import parse
from hint_dsl.compiler import compile_hints
from hint_dsl.errors import HintError

HINTS = """workflow agentic-ui slo 60s p99

option quick cpu 1 memory 2GB with max_tokens 16 max_pixels 200704
option full  cpu 2 memory 2GB

function plan
  when remaining < 5s  use quick
  otherwise            use full
"""


def test_an_option_carries_its_node_parameters_into_its_size():
    hints = parse(HINTS, "a.hints")
    quick = hints.option("quick")
    assert quick.params == {"max_tokens": 16, "max_pixels": 200704}
    assert quick.size.params == (("max_pixels", 200704), ("max_tokens", 16))
    assert hints.option("full").size.params == ()
    compiled = compile_hints(hints)
    assert compiled.options["quick"].params == quick.size.params


def test_options_with_parameters_print_back_to_the_same_hints():
    hints = parse(HINTS)
    text = format_hints(hints)
    assert "with max_tokens 16 max_pixels 200704" in text
    assert parse(text).option("quick").params == hints.option("quick").params


def test_size_json_round_trips_its_parameters():
    s = Size(1.0, 2048, "quick", (("max_tokens", 16),))
    assert s.to_json() == {
        "cpu": 1.0,
        "memory": 2048,
        "option": "quick",
        "params": {"max_tokens": 16},
    }
    assert Size.from_json(s.to_json()) == s
    assert "params" not in Size(1.0, 256).to_json()


@pytest.mark.parametrize(
    "line, message",
    [
        ("with temperature 3", "expected a node parameter ('max_tokens' or 'max_pixels')"),
        ("with max_tokens 0", "'max_tokens' must be at least 1"),
        ("with max_tokens 1.5", "a whole number after 'max_tokens'"),
        ("with max_tokens 16ms", "a whole number after 'max_tokens'"),
        ("with max_tokens 8 max_tokens 9", "'max_tokens' is set twice"),
        ("with", "expected a node parameter"),
    ],
)
def test_bad_option_parameters_are_refused_where_they_are(line, message):
    text = HINTS.replace("option full  cpu 2 memory 2GB", f"option full  cpu 2 memory 2GB {line}")
    with pytest.raises(HintError) as err:
        parse(text, "a.hints")
    assert message in str(err.value) and "a.hints:4:" in str(err.value)
