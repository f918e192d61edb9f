"""Pure rendering helpers and name parsing."""

import pytest

from cli import output
from cli.commands.common import parse_value
from cli.errors import CliError, exit_code_for_status
from cli.names import QualifiedName, fully_qualified, parse_name


def test_table_aligns_columns_and_does_not_pad_the_last():
    text = output.table(["A", "Long header", "Z"], [("x", 1, "end"), ("longer", None, "e")])
    assert text.splitlines() == [
        "A       Long header  Z",
        "x       1            end",
        "longer               e",
    ]


def test_pretty_uses_four_spaces_and_keeps_unicode():
    assert output.pretty({"a": ["é"]}) == '{\n    "a": [\n        "é"\n    ]\n}'


@pytest.mark.parametrize(
    "code, text",
    [
        (0, "success"),
        (1, "application error"),
        (2, "developer error"),
        (3, "internal error"),
        (None, "unknown"),
    ],
)
def test_status_names(code, text):
    assert output.status_text(code) == text


def test_cold_only_with_init_time():
    assert output.start_kind({"annotations": [{"key": "initTime", "value": 0}]}) == "cold"
    assert output.start_kind({"annotations": [{"key": "waitTime", "value": 3}]}) == "warm"


def test_activation_summary():
    text = output.format_activation_summary(
        {
            "namespace": "guest",
            "name": "a",
            "start": None,
            "response": {"status": "success", "result": {"x": 1}},
        }
    )
    assert text == "activation result for '/guest/a' (success at -)\n{\n    \"x\": 1\n}"


@pytest.mark.parametrize(
    "raw, value",
    [
        ("3", 3),
        ("1.5", 1.5),
        ("true", True),
        ('{"a": [1]}', {"a": [1]}),
        ("hello", "hello"),
        ('"quoted"', "quoted"),
        ("", ""),
    ],
)
def test_param_values_are_json_when_valid(raw, value):
    assert parse_value(raw) == value


@pytest.mark.parametrize(
    "text, namespace, entity",
    [
        ("hello", "_", "hello"),
        ("pkg/hello", "_", "pkg/hello"),
        ("/guest/hello", "guest", "hello"),
        ("/guest/pkg/hello", "guest", "pkg/hello"),
    ],
)
def test_parse_name(text, namespace, entity):
    assert parse_name(text) == QualifiedName(namespace, entity)


@pytest.mark.parametrize("bad", ["", "/guest", "a/b/c", "/a/b/c/d", "//x"])
def test_bad_names_are_refused(bad):
    with pytest.raises(CliError):
        parse_name(bad)


def test_sequence_components():
    assert fully_qualified(["a", "p/b", "/ns/c"]) == ["/_/a", "/_/p/b", "/ns/c"]


@pytest.mark.parametrize(
    "status, code",
    [(None, 3), (400, 144), (401, 145), (404, 148), (409, 153), (502, 246), (500, 244)],
)
def test_exit_codes_follow_wsk(status, code):
    assert exit_code_for_status(status) == code
