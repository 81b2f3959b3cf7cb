"""States.StringToJson, States.JsonToString and States.JsonMerge."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asl.intrinsics_support import invalid, run


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),  # recorded on AWS
        (" ", None),
        ("null", None),
        ("-0", 0),
        ("1", 1),
        ("1.1", 1.1),
        ("true", True),
        ('"HelloWorld"', "HelloWorld"),
        ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
        (' {"a":1} ', {"a": 1}),
    ],
)
def test_string_to_json(text: str, value: Any) -> None:
    assert run("States.StringToJson($.s)", {"s": text}) == value


def test_string_to_json_of_a_literal_with_braces() -> None:
    text = 'States.StringToJson(\'{"constant_in_literal": "false"}\')'
    assert run(text) == {"constant_in_literal": "false"}


@pytest.mark.parametrize("value", ["{bad json}", '{"a":1', "undefined", "NaN", 123, {"a": 1}, [1]])
def test_string_to_json_needs_json_text(value: Any) -> None:
    cause = invalid("States.StringToJson($.s)", {"s": value})
    assert cause == "Invalid arguments in States.StringToJson"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (0, "0"),
        (1.1, "1.1"),
        (1e21, "1.0E21"),  # Jackson writes doubles as Java does
        (True, "true"),
        ("HelloWorld", '"HelloWorld"'),
        ("é", '"é"'),
        ([1, 2, "HelloWorld"], '[1,2,"HelloWorld"]'),
        ({"Arg1": 1, "Arg2": []}, '{"Arg1":1,"Arg2":[]}'),
        ({"nested": {"a": 1}, "arr": [True, None]}, '{"nested":{"a":1},"arr":[true,null]}'),
    ],
)
def test_json_to_string(value: Any, text: str) -> None:
    assert run("States.JsonToString($.v)", {"v": value}) == text


def test_json_to_string_of_literals_and_calls() -> None:
    assert run("States.JsonToString('x')") == '"x"'
    assert run("States.JsonToString(States.Array(1, 2))") == "[1,2]"


def test_json_merge_is_shallow() -> None:
    data = {
        "fst": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3},
        "snd": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4},
    }
    merged = run("States.JsonMerge($.fst, $.snd, false)", data)
    assert merged == {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4}
    assert list(merged) == ["a", "b", "d", "c"]
    assert data["fst"] == {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}  # inputs untouched


def test_json_merge_with_context_and_nested_calls() -> None:
    text = (
        'States.JsonMerge(States.StringToJson(\'{"constant_in_literal": "false"}\'),'
        " $$.Execution.Input.input_field, false)"
    )
    context = {"Execution": {"Input": {"input_field": {"constant_input_field": "constant_value"}}}}
    assert run(text, {}, context) == {
        "constant_in_literal": "false",
        "constant_input_field": "constant_value",
    }


def test_json_merge_accepts_a_non_boolean_flag_as_shallow() -> None:
    assert run("States.JsonMerge($.a, $.b, 'false')", {"a": {"x": 1}, "b": {}}) == {"x": 1}


@pytest.mark.parametrize(
    ("a", "b", "deep"),
    [(None, {}, False), ({}, None, False), ([], {}, False), ({}, "x", False), ({}, {}, True)],
)
def test_json_merge_invalid_arguments(a: Any, b: Any, deep: bool) -> None:
    cause = invalid("States.JsonMerge($.a, $.b, $.deep)", {"a": a, "b": b, "deep": deep})
    assert cause == "Invalid arguments in States.JsonMerge"
