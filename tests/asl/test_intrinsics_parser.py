"""Intrinsic functions: the tokenizer, the parser and evaluation in general."""

from __future__ import annotations

import random

import pytest

from orchestrator.asl.errors import RUNTIME, StatesError
from orchestrator.asl.intrinsics import (
    MAX_NESTING,
    REGISTRY,
    compile_intrinsic,
    is_intrinsic,
)
from orchestrator.asl.intrinsics.lexer import NUMBER, PATH, STRING, tokenize
from orchestrator.asl.variables import Context, Variables
from tests.asl.intrinsics_support import run


def test_every_documented_function_is_registered() -> None:
    assert set(REGISTRY) == {
        "States.Format",
        "States.StringToJson",
        "States.JsonToString",
        "States.Array",
        "States.ArrayPartition",
        "States.ArrayContains",
        "States.ArrayRange",
        "States.ArrayGetItem",
        "States.ArrayLength",
        "States.ArrayUnique",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.JsonMerge",
        "States.MathRandom",
        "States.MathAdd",
        "States.StringSplit",
        "States.UUID",
    }


# -- tokenizer --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'it\'s'", "it's"),
        (r"'\{\}'", "{}"),
        (r"'a\\b'", "a\\b"),
        ("'{\"json\": [1]}'", '{"json": [1]}'),  # unescaped braces and double quotes are text
        ("'line\nbreak'", "line\nbreak"),  # a real newline (JSON's \n) is kept
        ("''", ""),
    ],
)
def test_string_literals_follow_aws_escaping(literal: str, value: str) -> None:
    (token, _end) = tokenize(literal)
    assert (token.kind, token.value, token.text) == (STRING, value, literal[1:-1])


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("-1", -1), ("42", 42), ("2.5", 2.5), ("-0.25", -0.25), ("1e3", 1000.0)],
)
def test_numbers_are_json_numbers(text: str, value: float) -> None:
    (token, _end) = tokenize(text)
    assert (token.kind, token.value, type(token.value)) == (NUMBER, value, type(value))


@pytest.mark.parametrize(
    "path",
    [
        "$",
        "$$",
        "$.a.b[0]",
        "$['a, b']",
        "$.items[?(@.price > 10)]",
        "$..book[0,1]",
        "$$.Execution.Input",
    ],
)
def test_a_path_runs_to_the_comma_or_parenthesis_outside_brackets(path: str) -> None:
    tokens = tokenize(f"States.Array({path}, 1)")
    assert [(t.kind, t.text) for t in tokens[2:4]] == [(PATH, path), (",", ",")]


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        (r"States.Format('a\nb')", "invalid escape '\\n'", 17),
        ("States.Format('abc", "unterminated string literal", 15),
        ("States.Array(1.)", "a number needs digits after '.'", 15),
        ("States.Array(.5)", "unexpected character '.'", 14),
        ("States.Array(01)", "malformed number '01'", 14),
        ("States.Array(-)", "a number needs digits after '-'", 14),
        ("States.Array($.a[0)", "unbalanced ')' in a JSONPath", 19),
        ("States.Array($.a[0", "unterminated JSONPath", 14),
        ("States.Array(1 2)", "expected ',' or ')' after an argument, found '2'", 16),
        ("States.Array(1,)", "expected an argument, found ')'", 16),
        ("States.Array(", "expected an argument, found the end of the text", 14),
        ("States.Array(1", "expected ',' or ')' after an argument, found the end", 15),
        ("States.Array() trailing", "expected the end of the text after the call", 16),
        ("States.Array([1,2])", "unexpected character '['", 14),
        ("States.Array(foo)", "expected an intrinsic function such as States.Format", 14),
        ("States.Nope(1)", "unknown intrinsic function 'States.Nope'", 1),
        ("States.UUID)", "expected '(' after States.UUID", 12),
        ("$.a", "expected an intrinsic function such as States.Format, found '$.a'", 1),
        ("States.Array($.a[?(@.b ==)])", "invalid JSONPath argument", 14),
    ],
)
def test_syntax_errors_say_what_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(ValueError) as caught:
        compile_intrinsic(text)
    assert message in str(caught.value)
    assert f"at column {column} of {text!r}" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("States.ArrayRange(1, 5)", "States.ArrayRange takes 3 arguments, got 2"),
        ("States.ArrayLength()", "States.ArrayLength takes 1 argument, got 0"),
        ("States.MathRandom(1)", "States.MathRandom takes 2 to 3 arguments, got 1"),
        ("States.MathRandom(1, 2, 3, 4)", "States.MathRandom takes 2 to 3 arguments, got 4"),
        ("States.Format()", "States.Format takes at least 1 argument, got 0"),
        ("States.Array(States.Hash('x'))", "States.Hash takes 2 arguments, got 1"),
    ],
)
def test_a_wrong_argument_count_is_refused_when_compiling(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_intrinsic(text)


def test_states_uuid_ignores_arguments_as_aws_does() -> None:
    assert len(run("States.UUID('x', $.missing)", {})) == 36


def test_a_variable_argument_reads_the_variable() -> None:
    intrinsic = compile_intrinsic("States.Format('{} and {}', $name, $pair.b)")
    context = Context({}, variables=Variables([{"name": "x", "pair": {"b": 2}}]))
    assert intrinsic.evaluate({}, context, random.Random()) == "x and 2"


# -- nesting and evaluation -------------------------------------------------------------------


def nested(depth: int) -> str:
    return "States.Array(" * depth + "1" + ")" * depth


def test_calls_nest_up_to_aws_limit() -> None:
    assert MAX_NESTING == 10
    value = run(nested(MAX_NESTING))
    for _ in range(MAX_NESTING - 1):
        (value,) = value
    assert value == [1]
    with pytest.raises(ValueError, match="nest more than 10 deep"):
        compile_intrinsic(nested(MAX_NESTING + 1))


def test_documented_nine_deep_example() -> None:
    text = (
        "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
        "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
        "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2),"
        " '.'), 1), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit("
        "$.ImageRecipe.Arn, '/'), 2), '.'), 2))"
    )
    data = {"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:1:image/recipe/1.2.3"}}
    assert run(text, data) == "1.2.3"


def test_arguments_are_literals_paths_context_paths_and_calls() -> None:
    value = run(
        "States.Array('s', -1.5, 7, true, false, null, $.a, $$.Execution.Name, States.Array())",
        {"a": {"b": [1]}},
        {"Execution": {"Name": "exec"}},
    )
    assert value == ["s", -1.5, 7, True, False, None, {"b": [1]}, "exec", []]


def test_whitespace_between_tokens_is_ignored() -> None:
    assert run("States.Array(  $.a ,\n$.b )", {"a": 1, "b": 2}) == [1, 2]
    assert len(run("States.UUID( )")) == 36


def test_an_indefinite_path_gives_the_list_of_matches() -> None:
    data = {"items": [{"p": 5}, {"p": 20}, {"p": 30}]}
    assert run("States.ArrayLength($.items[?(@.p > 10)])", data) == 2


def test_a_path_that_selects_nothing_is_a_runtime_error_naming_the_field() -> None:
    intrinsic = compile_intrinsic("States.Hash($.missing, 'SHA-256')")
    with pytest.raises(StatesError) as caught:
        intrinsic.evaluate({}, {}, random.Random(), field="value.$")
    assert caught.value.error == RUNTIME
    assert caught.value.cause == (
        "The JSONPath '$.missing' specified for the field 'value.$' could not be found in the"
        " input '{}'"
    )
    with pytest.raises(StatesError) as caught:
        compile_intrinsic("States.Array($$.Nope)").evaluate({}, {"A": 1}, random.Random())
    assert (
        caught.value.cause == "The JSONPath '$$.Nope' could not be found in the input '{\"A\":1}'"
    )


def test_a_wrong_argument_value_is_invalid_arguments_as_aws_says() -> None:
    with pytest.raises(StatesError) as caught:
        run("States.Array(States.MathAdd('a', 1))")
    assert (caught.value.error, caught.value.cause) == (
        RUNTIME,
        "Invalid arguments in States.MathAdd",
    )


def test_compiled_once_and_evaluated_many_times() -> None:
    intrinsic = compile_intrinsic("States.Format('{}-{}', $.a, $$.b)")
    assert intrinsic.text == "States.Format('{}-{}', $.a, $$.b)"
    assert [intrinsic.evaluate({"a": i}, {"b": "x"}, random.Random()) for i in range(3)] == [
        "0-x",
        "1-x",
        "2-x",
    ]
    assert not intrinsic.uses_random
    assert compile_intrinsic("States.Array(States.UUID())").uses_random


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('x')", True),
        ("States.UUID ()", True),
        ("States.Format", False),
        ("$.States.Format('x')", False),
        ("States. Format('x')", False),
    ],
)
def test_is_intrinsic(text: str, expected: bool) -> None:
    assert is_intrinsic(text) is expected


def test_non_string_text_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        compile_intrinsic(42)  # type: ignore[arg-type]
    assert not is_intrinsic(42)
