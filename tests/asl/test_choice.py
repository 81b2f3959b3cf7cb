"""Unit tests for orchestrator.asl.choice: compiling and evaluating Choice rules."""

from __future__ import annotations

import time
from typing import Any

import pytest

from orchestrator.asl import errors
from orchestrator.asl.choice import (
    COMPARISON_OPERATORS,
    ChoiceBranch,
    Rule,
    compile_choices,
    compile_rule,
)
from orchestrator.asl.errors import StatesError

PTR = "/States/Is Case Resolved/Choices"


def rule(raw: dict[str, Any]) -> Rule:
    """Compile a nested rule that must be valid."""
    compiled, problems = compile_rule(raw, "/r")
    assert problems == [], problems
    assert compiled is not None
    return compiled


def check(raw: dict[str, Any], data: Any, context: Any = None) -> bool:
    return rule(raw).evaluate(data, context)


def codes(raw: Any, pointer: str = "/r") -> list[tuple[str, str]]:
    compiled, problems = compile_rule(raw, pointer)
    assert compiled is None
    return [(p.code, p.pointer) for p in problems]


def test_operator_set_is_complete() -> None:
    families = {
        "String": ["Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"],
        "Numeric": ["Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"],
        "Timestamp": ["Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"],
        "Boolean": ["Equals"],
    }
    expected = {f + r + p for f, rs in families.items() for r in rs for p in ("", "Path")}
    expected |= {"StringMatches", "IsNull", "IsPresent", "IsNumeric", "IsString"}
    expected |= {"IsBoolean", "IsTimestamp"}
    assert expected == COMPARISON_OPERATORS


# --- strings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "operand", "result"),
    [
        ("StringEquals", "abc", "abc", True),
        ("StringEquals", "abc", "abd", False),
        ("StringEquals", "Abc", "abc", False),
        ("StringLessThan", "abc", "abd", True),
        ("StringLessThan", "abc", "abc", False),
        ("StringLessThan", "Z", "a", True),  # ordinal: uppercase before lowercase
        ("StringLessThan", "A", "A ", True),
        ("StringGreaterThan", "b", "abc", True),
        ("StringGreaterThan", "", "", False),
        ("StringLessThanEquals", "abc", "abc", True),
        ("StringLessThanEquals", "abd", "abc", False),
        ("StringGreaterThanEquals", "abc", "abc", True),
        ("StringGreaterThanEquals", "ab", "abc", False),
    ],
)
def test_string_comparisons(op: str, value: str, operand: str, result: bool) -> None:
    assert check({"Variable": "$.v", op: operand}, {"v": value}) is result
    assert check({"Variable": "$.v", op + "Path": "$.o"}, {"v": value, "o": operand}) is result


@pytest.mark.parametrize(
    ("pattern", "value", "result"),
    [
        ("log-*.txt", "log-2024.txt", True),
        ("log-*.txt", "log-.txt", True),
        ("log-*.txt", "log-2024.txt.bak", False),  # the whole string must match
        ("log-*.txt", "xlog-1.txt", False),
        ("*", "", True),
        ("a*b*c", "a-x-b-y-c", True),
        ("a*b*c", "a-x-c", False),
        ("", "", True),
        ("", "x", False),
        ("foo.bar", "fooXbar", False),  # regex metacharacters are literal
        ("a+b", "a+b", True),
        ("a\\*b", "a*b", True),  # \* is a literal asterisk
        ("a\\*b", "axb", False),
        ("a\\\\b", "a\\b", True),  # \\ is a literal backslash
        ("a\\\\*", "a\\anything", True),  # literal backslash then wildcard
        ("a\\\\\\*", "a\\*", True),  # literal backslash then literal asterisk
        ("a\\\\\\*", "a\\x", False),
        ("line*", "line1\nline2", True),  # the wildcard spans newlines
        ("ab*ba", "aba", False),  # the first and last pieces must not overlap
        ("ab*ba", "abba", True),
        ("*a*a", "aa", True),
        ("*aa*aa", "aaa", False),
        ("a\\", "a\\", True),  # a lone trailing backslash is itself
        ("a\\x", "a\\x", True),  # so is one before another character
    ],
)
def test_string_matches(pattern: str, value: str, result: bool) -> None:
    assert check({"Variable": "$.v", "StringMatches": pattern}, {"v": value}) is result


def test_string_matches_takes_linear_time() -> None:
    # A backtracking regex took 18 s for this; the pieces are found left to right instead.
    hostile = {"Variable": "$.v", "StringMatches": "*a*a*a*a*a*a*a*a*b"}
    started = time.perf_counter()
    for length in (1_000, 100_000):
        assert check(hostile, {"v": "a" * length}) is False
    assert check(hostile, {"v": "a" * 100_000 + "b"}) is True
    assert time.perf_counter() - started < 0.5


def test_string_matches_non_string_is_false() -> None:
    assert check({"Variable": "$.v", "StringMatches": "*"}, {"v": 1}) is False


def test_string_matches_has_no_path_form() -> None:
    assert codes({"Variable": "$.v", "StringMatchesPath": "$.p"}) == [
        ("UNKNOWN_FIELD", "/r/StringMatchesPath"),
        ("NO_OPERATOR", "/r"),
    ]


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "operand", "result"),
    [
        ("NumericEquals", 1, 1.0, True),
        ("NumericEquals", 0, 0.0, True),
        ("NumericEquals", 2.22, 2.22, True),
        ("NumericEquals", 1.1, 1, False),
        ("NumericLessThan", 1, 1.5, True),
        ("NumericLessThan", -3, -3, False),
        ("NumericGreaterThan", 10**20, 1e19, True),
        ("NumericGreaterThan", 1, 1, False),
        ("NumericLessThanEquals", 1, 1, True),
        ("NumericLessThanEquals", 1.0001, 1, False),
        ("NumericGreaterThanEquals", 0.5, 0.5, True),
        ("NumericGreaterThanEquals", 0.4, 0.5, False),
    ],
)
def test_numeric_comparisons(op: str, value: float, operand: float, result: bool) -> None:
    assert check({"Variable": "$.v", op: operand}, {"v": value}) is result
    assert check({"Variable": "$.v", op + "Path": "$.o"}, {"v": value, "o": operand}) is result


@pytest.mark.parametrize("value", [True, False, "1", None, [1], {"a": 1}])
def test_numeric_type_mismatch_is_false(value: Any) -> None:
    for op in ("NumericEquals", "NumericLessThan", "NumericGreaterThanEquals"):
        operand = 1 if value is not False else 0
        assert check({"Variable": "$.v", op: operand}, {"v": value}) is False


def test_numeric_path_operand_of_wrong_type_is_false() -> None:
    r = rule({"Variable": "$.v", "NumericEqualsPath": "$.o"})
    assert r.evaluate({"v": 1, "o": True}, None) is False
    assert r.evaluate({"v": 1, "o": "1"}, None) is False
    assert r.evaluate({"v": True, "o": 1}, None) is False


# --- booleans --------------------------------------------------------------------------------


def test_boolean_equals() -> None:
    assert check({"Variable": "$.v", "BooleanEquals": True}, {"v": True}) is True
    assert check({"Variable": "$.v", "BooleanEquals": False}, {"v": False}) is True
    assert check({"Variable": "$.v", "BooleanEquals": True}, {"v": False}) is False
    # 1 and 0 are numbers, not booleans
    assert check({"Variable": "$.v", "BooleanEquals": True}, {"v": 1}) is False
    assert check({"Variable": "$.v", "BooleanEquals": False}, {"v": 0}) is False
    assert check({"Variable": "$.v", "BooleanEquals": False}, {"v": None}) is False
    r = rule({"Variable": "$.v", "BooleanEqualsPath": "$.o"})
    assert r.evaluate({"v": False, "o": False}, None) is True
    assert r.evaluate({"v": True, "o": False}, None) is False
    assert r.evaluate({"v": 1, "o": True}, None) is False
    assert r.evaluate({"v": True, "o": 1}, None) is False


# --- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "operand", "result"),
    [
        ("TimestampEquals", "2016-08-18T17:33:00Z", "2016-08-18T17:33:00Z", True),
        ("TimestampEquals", "2016-08-18T18:33:00+01:00", "2016-08-18T17:33:00Z", True),
        ("TimestampEquals", "2016-08-18T12:03:00-05:30", "2016-08-18T17:33:00Z", True),
        ("TimestampEquals", "2016-08-18T17:33:00.000Z", "2016-08-18T17:33:00Z", True),
        ("TimestampEquals", "2016-08-18T17:33:00.5Z", "2016-08-18T17:33:00.500000000Z", True),
        ("TimestampEquals", "2016-08-18T17:33:00.001Z", "2016-08-18T17:33:00Z", False),
        (
            "TimestampLessThan",
            "2016-08-18T17:33:00.123456788Z",
            "2016-08-18T17:33:00.123456789Z",
            True,
        ),
        ("TimestampLessThan", "2016-08-18T17:33:00Z", "2016-08-18T17:33:00Z", False),
        # 18:00+02:00 is 16:00Z, before 17:00Z
        ("TimestampLessThan", "2016-08-18T18:00:00+02:00", "2016-08-18T17:00:00Z", True),
        ("TimestampGreaterThan", "2016-08-19T00:00:00+00:00", "2016-08-18T23:59:59.999Z", True),
        ("TimestampGreaterThan", "2016-08-18T23:00:00-02:00", "2016-08-19T00:30:00Z", True),
        ("TimestampLessThanEquals", "2016-08-18T17:33:00Z", "2016-08-18T17:33:00Z", True),
        ("TimestampLessThanEquals", "2016-08-18T17:33:01Z", "2016-08-18T17:33:00Z", False),
        ("TimestampGreaterThanEquals", "2016-08-18T17:33:00Z", "2016-08-18T17:33:00Z", True),
        ("TimestampGreaterThanEquals", "2015-08-18T17:33:00Z", "2016-08-18T17:33:00Z", False),
    ],
)
def test_timestamp_comparisons(op: str, value: str, operand: str, result: bool) -> None:
    assert check({"Variable": "$.v", op: operand}, {"v": value}) is result
    assert check({"Variable": "$.v", op + "Path": "$.o"}, {"v": value, "o": operand}) is result


@pytest.mark.parametrize(
    "value",
    [
        "2016-08-18T17:33:00",  # no zone
        "2016-08-18 17:33:00Z",  # no T
        "2016-08-18t17:33:00Z",  # lowercase t
        "2016-08-18T17:33:00z",  # lowercase z
        "2016-08-18",
        "2016-13-18T17:33:00Z",  # month 13
        "2016-02-30T17:33:00Z",
        "2016-08-18T24:00:00Z",
        "2016-08-18T17:33:00+0100",  # offset without colon
        "2016-08-18T17:33:00.Z",
        "2023-02-24 12:15:56.832957",
        "",
        1471541580,
        None,
        True,
    ],
)
def test_invalid_timestamp_value_is_false(value: Any) -> None:
    for op in ("TimestampEquals", "TimestampLessThan", "TimestampGreaterThan"):
        assert check({"Variable": "$.v", op: "2016-08-18T17:33:00Z"}, {"v": value}) is False
    r = rule({"Variable": "$.v", "TimestampEqualsPath": "$.o"})
    assert r.evaluate({"v": "2016-08-18T17:33:00Z", "o": value}, None) is False
    assert check({"Variable": "$.v", "IsTimestamp": True}, {"v": value}) is False


# --- type tests and presence -----------------------------------------------------------------

VALUES: list[Any] = [None, 0, 1.5, True, False, "", "x", "2016-08-18T17:33:00Z", [], {}]


@pytest.mark.parametrize("value", VALUES)
def test_type_tests(value: Any) -> None:
    expected = {
        "IsNull": value is None,
        "IsNumeric": isinstance(value, int | float) and not isinstance(value, bool),
        "IsString": isinstance(value, str),
        "IsBoolean": isinstance(value, bool),
        "IsTimestamp": value == "2016-08-18T17:33:00Z",
        "IsPresent": True,
    }
    for op, holds in expected.items():
        assert check({"Variable": "$.v", op: True}, {"v": value}) is holds, op
        assert check({"Variable": "$.v", op: False}, {"v": value}) is (not holds), op


def test_is_present_on_missing_never_fails() -> None:
    assert check({"Variable": "$.missing", "IsPresent": True}, {}) is False
    assert check({"Variable": "$.missing", "IsPresent": False}, {}) is True
    assert check({"Variable": "$.a.b.c", "IsPresent": True}, {"a": 1}) is False
    assert check({"Variable": "$.a[3]", "IsPresent": True}, {"a": [1]}) is False
    assert check({"Variable": "$.a[0]", "IsPresent": True}, {"a": [None]}) is True
    assert check({"Variable": "$.x", "IsPresent": True}, "not an object") is False


# --- missing variables -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"Variable": "$.missing", "StringEquals": "x"},
        {"Variable": "$.missing", "NumericEquals": 1},
        {"Variable": "$.missing", "BooleanEquals": True},
        {"Variable": "$.missing", "TimestampEquals": "2016-08-18T17:33:00Z"},
        {"Variable": "$.missing", "StringMatches": "*"},
        {"Variable": "$.missing", "IsNull": True},
        {"Variable": "$.missing", "IsString": False},
        {"Variable": "$.missing", "NumericEqualsPath": "$.n"},
    ],
)
def test_missing_variable_raises_runtime_error(raw: dict[str, Any]) -> None:
    with pytest.raises(StatesError) as info:
        check(raw, {"n": 1})
    assert info.value.error == errors.RUNTIME
    assert info.value.cause == (
        "Invalid path '$.missing': The choice state's condition path references an invalid value."
    )


def test_missing_operand_path_raises_runtime_error() -> None:
    with pytest.raises(StatesError) as info:
        check({"Variable": "$.v", "StringEqualsPath": "$.nope"}, {"v": "x"})
    assert info.value.error == errors.RUNTIME
    assert info.value.cause == (
        "Invalid path '$.nope': The choice state's condition path references an invalid value."
    )


def test_missing_context_variable_cause_keeps_double_dollar() -> None:
    with pytest.raises(StatesError) as info:
        check({"Variable": "$$.Execution.Nope", "IsNull": True}, {}, {"Execution": {}})
    assert info.value.cause == (
        "Invalid path '$$.Execution.Nope': "
        "The choice state's condition path references an invalid value."
    )


# --- paths -----------------------------------------------------------------------------------


def test_path_forms() -> None:
    data = {"a": {"b c": [10, {"d": "x"}]}, "list": [1, 2, 3]}
    assert check({"Variable": "$.a['b c'][0]", "NumericEquals": 10}, data)
    assert check({"Variable": "$.a['b c'][1].d", "StringEquals": "x"}, data)
    assert check({"Variable": "$", "IsPresent": True}, data)
    assert check({"Variable": "$", "StringEquals": "whole"}, "whole")
    assert check({"Variable": "$.list[2]", "NumericGreaterThanPath": "$.list[1]"}, data)


def test_context_variables() -> None:
    context = {"Execution": {"Name": "run-1", "Input": {"n": 5}}, "State": {"RetryCount": 2}}
    data = {"name": "run-1", "n": 5, "limit": 2}
    assert check({"Variable": "$$.Execution.Name", "StringEquals": "run-1"}, data, context)
    assert check({"Variable": "$$.Execution.Name", "StringEqualsPath": "$.name"}, data, context)
    assert check({"Variable": "$.n", "NumericEqualsPath": "$$.Execution.Input.n"}, data, context)
    assert check(
        {"Variable": "$$.State.RetryCount", "NumericGreaterThanEqualsPath": "$.limit"},
        data,
        context,
    )
    assert check({"Variable": "$$.State.Nope", "IsPresent": False}, data, context)
    # `$$...` never reads the data, `$...` never reads the context
    assert check({"Variable": "$$.name", "IsPresent": True}, data, context) is False
    assert check({"Variable": "$.Execution", "IsPresent": True}, data, context) is False


# --- boolean operators -----------------------------------------------------------------------


def test_and_or_not() -> None:
    r = rule(
        {
            "Comment": "adult from the UK, or anybody flagged, but not banned",
            "And": [
                {
                    "Or": [
                        {
                            "And": [
                                {"Variable": "$.age", "NumericGreaterThanEquals": 18},
                                {"Variable": "$.country", "StringEquals": "UK"},
                            ]
                        },
                        {"Variable": "$.flagged", "BooleanEquals": True},
                    ]
                },
                {"Not": {"Variable": "$.banned", "BooleanEquals": True}},
            ],
        }
    )
    base = {"age": 20, "country": "UK", "flagged": False, "banned": False}
    assert r.evaluate(base, None) is True
    assert r.evaluate({**base, "age": 17}, None) is False
    assert r.evaluate({**base, "age": 17, "flagged": True}, None) is True
    assert r.evaluate({**base, "banned": True}, None) is False
    assert r.evaluate({**base, "country": "FR"}, None) is False


def test_and_or_short_circuit() -> None:
    # the second rule would fail on a missing path; it is never reached
    missing = {"Variable": "$.missing", "IsNull": True}
    assert check({"And": [{"Variable": "$.v", "IsNull": False}, missing]}, {"v": None}) is False
    assert check({"Or": [{"Variable": "$.v", "IsNull": True}, missing]}, {"v": None}) is True
    with pytest.raises(StatesError):
        check({"Or": [{"Variable": "$.v", "IsNull": False}, missing]}, {"v": None})


def test_not_is_present() -> None:
    assert check({"Not": {"Variable": "$.x", "IsPresent": True}}, {}) is True


# --- compile_choices -------------------------------------------------------------------------


def test_compile_choices_valid() -> None:
    branches, problems = compile_choices(
        [
            {"Variable": "$.status", "StringEquals": "RESOLVED", "Next": "Close Case"},
            {
                "Comment": "everything else",
                "Not": {"Variable": "$.status", "StringEquals": "RESOLVED"},
                "Next": "Escalate Case",
            },
        ],
        PTR,
    )
    assert problems == []
    assert [b.next for b in branches] == ["Close Case", "Escalate Case"]
    assert all(isinstance(b, ChoiceBranch) for b in branches)
    data = {"status": "RESOLVED"}
    assert next(b.next for b in branches if b.rule.evaluate(data, None)) == "Close Case"
    data = {"status": "OPEN"}
    assert next(b.next for b in branches if b.rule.evaluate(data, None)) == "Escalate Case"


def test_compile_choices_reports_every_problem_with_its_pointer() -> None:
    choices = [
        {"Variable": "$.n", "NumericEquals": "1", "Next": "A"},  # 0: operand type
        {"Variable": "$.n", "NumericEquals": 1},  # 1: no Next
        {"Variable": "$.n", "NumericEquals": 1, "NumericLessThan": 2, "Next": "B"},  # 2
        {"Variable": "n", "StringEquals": "x", "Next": "C"},  # 3: bad path
        {"Variable": "$.n", "Next": "D"},  # 4: no operator
        {"And": [{"Variable": "$.n", "IsNull": True, "Next": "E"}], "Next": "F"},  # 5
        {"Variable": "$.ok", "BooleanEquals": True, "Next": "Fine"},  # 6: valid
        {"Variable": "$.n", "StringEquals": "x", "Bogus": 1, "Next": "G"},  # 7
        {"Variable": "$.t", "TimestampEquals": "yesterday", "Next": "H"},  # 8
        {"Variable": "$.n", "NumericEqualsPath": "$.[", "Next": "I"},  # 9
        {"Or": [], "Next": "J"},  # 10
        {"Variable": "$.b", "NumericEquals": True, "Next": "K"},  # 11: bool is not a number
        {"Variable": "$.b", "IsNull": "yes", "Next": "L"},  # 12
        "not a rule",  # 13
        {"Not": {"Variable": "$.x", "BooleanEquals": "true"}, "Next": 5},  # 14
        {"Variable": "$.x", "And": [{"Variable": "$.y", "IsNull": True}], "Next": "M"},  # 15
        {"NumericEquals": 1, "Next": "N"},  # 16: no Variable
    ]
    branches, problems = compile_choices(choices, PTR)
    assert [b.next for b in branches] == ["Fine"]
    found = [(p.code, p.pointer) for p in problems]
    assert found == [
        ("INVALID_TYPE", f"{PTR}/0/NumericEquals"),
        ("MISSING_NEXT", f"{PTR}/1"),
        ("MULTIPLE_OPERATORS", f"{PTR}/2"),
        ("INVALID_JSONPATH", f"{PTR}/3/Variable"),
        ("NO_OPERATOR", f"{PTR}/4"),
        ("NEXT_NOT_ALLOWED", f"{PTR}/5/And/0/Next"),
        ("UNKNOWN_FIELD", f"{PTR}/7/Bogus"),
        ("INVALID_TIMESTAMP", f"{PTR}/8/TimestampEquals"),
        ("INVALID_JSONPATH", f"{PTR}/9/NumericEqualsPath"),
        ("EMPTY_ARRAY", f"{PTR}/10/Or"),
        ("INVALID_TYPE", f"{PTR}/11/NumericEquals"),
        ("INVALID_TYPE", f"{PTR}/12/IsNull"),
        ("INVALID_TYPE", f"{PTR}/13"),
        ("INVALID_TYPE", f"{PTR}/14/Next"),
        ("INVALID_TYPE", f"{PTR}/14/Not/BooleanEquals"),
        ("FIELD_NOT_ALLOWED", f"{PTR}/15/Variable"),
        ("MISSING_FIELD", f"{PTR}/16"),
    ]
    for p in problems:
        assert p.state == "Is Case Resolved"
        assert p.message
    first = problems[0].message
    assert "NumericEquals" in first and "number" in first and "'1'" in first
    assert "NumericLessThan" in problems[2].message and "NumericEquals" in problems[2].message


def test_compile_choices_not_a_list_or_empty() -> None:
    assert [(p.code, p.pointer) for p in compile_choices({}, PTR)[1]] == [("INVALID_TYPE", PTR)]
    assert [(p.code, p.pointer) for p in compile_choices([], PTR)[1]] == [("EMPTY_ARRAY", PTR)]


def test_compile_rule_problems() -> None:
    assert codes({"Variable": "$.x", "StringEquals": 1}) == [("INVALID_TYPE", "/r/StringEquals")]
    assert codes({"Variable": "$.x", "StringEquals": "a", "Next": "S"}) == [
        ("NEXT_NOT_ALLOWED", "/r/Next")
    ]
    assert codes({"Variable": 7, "IsNull": True}) == [("INVALID_TYPE", "/r/Variable")]
    assert codes({"Variable": "$.x", "BooleanEquals": 1}) == [("INVALID_TYPE", "/r/BooleanEquals")]
    assert codes({"Variable": "$.x", "TimestampEquals": 5}) == [
        ("INVALID_TYPE", "/r/TimestampEquals")
    ]
    assert codes({"Variable": "$.x", "StringEqualsPath": "x"}) == [
        ("INVALID_JSONPATH", "/r/StringEqualsPath")
    ]
    assert codes({"Variable": "$.x", "StringEqualsPath": 3}) == [
        ("INVALID_TYPE", "/r/StringEqualsPath")
    ]
    assert codes({"Variable": "$.x", "StringMatches": 3}) == [("INVALID_TYPE", "/r/StringMatches")]
    assert codes({"Variable": "$.x", "IsPresent": 1}) == [("INVALID_TYPE", "/r/IsPresent")]
    assert codes({"Not": [{"Variable": "$.x", "IsNull": True}]}) == [("INVALID_TYPE", "/r/Not")]
    assert codes({"And": {"Variable": "$.x", "IsNull": True}}) == [("INVALID_TYPE", "/r/And")]
    assert codes({"And": [], "Or": []}) == [
        ("MULTIPLE_OPERATORS", "/r"),
        ("EMPTY_ARRAY", "/r/And"),
        ("EMPTY_ARRAY", "/r/Or"),
    ]
    assert codes({"Comment": 3, "Variable": "$.x", "IsNull": True}) == [
        ("INVALID_TYPE", "/r/Comment")
    ]
    assert codes({}) == [("NO_OPERATOR", "/r")]
    # pointer tokens are escaped
    assert codes({"Variable": "$.x", "IsNull": True, "a/b~c": 1}) == [
        ("UNKNOWN_FIELD", "/r/a~1b~0c")
    ]


def test_nested_problems_are_all_reported() -> None:
    assert codes(
        {
            "Or": [
                {"Variable": "$.a", "NumericEquals": "x"},
                {"Not": {"Variable": "$.b", "Bogus": True, "IsNull": True}},
                {"And": [{"Variable": "$.c", "IsString": True}, {"Next": "X", "IsNull": True}]},
            ]
        }
    ) == [
        ("INVALID_TYPE", "/r/Or/0/NumericEquals"),
        ("UNKNOWN_FIELD", "/r/Or/1/Not/Bogus"),
        ("NEXT_NOT_ALLOWED", "/r/Or/2/And/1/Next"),
        ("MISSING_FIELD", "/r/Or/2/And/1"),
    ]


def test_context_paths_compile_and_are_checked() -> None:
    assert check({"Variable": "$$", "IsNull": True}, {}, None) is True  # `$$` is the context
    assert codes({"Variable": "$$$", "IsNull": True}) == [("INVALID_JSONPATH", "/r/Variable")]
    assert codes({"Variable": "$.x", "NumericEqualsPath": "$$.["}) == [
        ("INVALID_JSONPATH", "/r/NumericEqualsPath")
    ]
