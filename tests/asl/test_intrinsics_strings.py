"""States.Format and States.StringSplit (generic and string families)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asl.intrinsics_support import invalid, run


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("", ""),
        (" ", " "),
        ("HelloWorld", "HelloWorld"),
        (None, "null"),
        (True, "true"),
        (1, "1"),
        (1.1, "1.1"),
        (100.0, "100.0"),
        (1e7, "1.0E7"),
        (0.00012, "1.2E-4"),
        (-0.0, "-0.0"),
        (9007199254740991, "9007199254740991"),
        ('{"Arg1": 1, "Arg2": []}', '{"Arg1": 1, "Arg2": []}'),
        ({"Arg1": 1, "Arg2": []}, "{Arg1=1, Arg2=[]}"),  # recorded on AWS: Java's toString
        ([1, "a", None, [True]], "[1, a, null, [true]]"),
    ],
)
def test_format_prints_values_as_aws_does(value: Any, printed: str) -> None:
    assert run("States.Format('Formatting argument {}.', $.v)", {"v": value}) == (
        f"Formatting argument {printed}."
    )


def test_format_with_context_values() -> None:
    context = {"Execution": {"Name": "run"}, "StateMachine": {"Id": "arn:x", "Name": "M"}}
    text = "States.Format('fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)"
    assert run(text, {}, context) == "fst=run and snd={Id=arn:x, Name=M}."


def test_format_template_escapes() -> None:
    assert run(r"States.Format('\{\} is {}, it\'s \\ ok', 'x')") == "{} is x, it's \\ ok"
    assert run("States.Format('no placeholders')") == "no placeholders"
    assert run("States.Format('  {}  ', 'x')") == "  x  "


def test_format_template_from_the_data() -> None:
    assert run("States.Format($.t, $.n)", {"t": "Hello, {}.", "n": "Arnav"}) == "Hello, Arnav."
    assert run("States.Format($.t)", {"t": "lone { brace"}) == "lone { brace"


def test_format_nested() -> None:
    text = "States.Format('arn:{}:{}', $.svc, States.JsonToString($.obj))"
    assert run(text, {"svc": "lambda", "obj": {"k": 1}}) == 'arn:lambda:{"k":1}'


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("States.Format('{} {}', $.a)", {"a": "x"}),  # too few arguments
        ("States.Format('{}', $.a, $.a)", {"a": "x"}),  # too many
        ("States.Format($.t, $.a)", {"t": 123, "a": "x"}),  # the template must be a string
        ("States.Format($.t)", {"t": "{}"}),
        ("States.Format('Hello {', 'x')", {}),  # a lone brace in a literal (AWS: at run time)
        ("States.Format('Hello {{}}', 'x')", {}),
        ("States.Format('}')", {}),
    ],
)
def test_format_invalid_arguments(text: str, data: Any) -> None:
    assert invalid(text, data) == "Invalid arguments in States.Format"


@pytest.mark.parametrize(
    ("text", "delimiters", "expected"),
    [
        (" ", ",", [" "]),
        (" , ", ",", [" ", " "]),
        (", , ,", ",", [" ", " "]),  # empty tokens are dropped (recorded on AWS)
        (",,,,", ",", []),
        ("", ",", []),
        ("1,2,3,4,5", ",", ["1", "2", "3", "4", "5"]),
        ("This.is+a,test=string", ".+,=", ["This", "is", "a", "test", "string"]),
        ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
        ("1a2b3ab4", "ab", ["1", "2", "3", "4"]),
        ("abc", "", ["abc"]),
    ],
)
def test_string_split_is_a_string_tokenizer(
    text: str, delimiters: str, expected: list[str]
) -> None:
    assert run("States.StringSplit($.s, $.d)", {"s": text, "d": delimiters}) == expected


def test_string_split_with_literal_newline() -> None:
    assert run("States.StringSplit('Hello\nWorld', '\n')") == ["Hello", "World"]


@pytest.mark.parametrize(
    ("s", "d"), [(123, ","), (None, ","), (False, ","), ("a,b", 1), ("a", [","])]
)
def test_string_split_needs_strings(s: Any, d: Any) -> None:
    cause = invalid("States.StringSplit($.s, $.d)", {"s": s, "d": d})
    assert cause == "Invalid arguments in States.StringSplit"
