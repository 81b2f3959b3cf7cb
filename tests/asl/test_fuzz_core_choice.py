"""Property tests of Choice rules: StringMatches agrees with a reference matcher (a regex, fine
on short strings) on AWS's escapes, and any rule on any data answers True or False or raises
States.Runtime, nothing else."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.asl.choice import compile_rule, compile_wildcard
from orchestrator.asl.errors import RUNTIME, StatesError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text("ab", max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abk"), inner, max_size=3)
    ),
    max_leaves=8,
)


def reference(pattern: str, value: str) -> bool:
    """The matcher choice.py had before: a regex, exponential in the worst case."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.fullmatch("".join(parts), value, re.DOTALL) is not None


@settings(max_examples=600, deadline=None)
@given(st.text("ab*\\\n", max_size=9), st.text("ab*\\\n", max_size=12))
def test_string_matches_agrees_with_the_reference(pattern: str, value: str) -> None:
    assert compile_wildcard(pattern).matches(value) is reference(pattern, value)


@settings(max_examples=200, deadline=None)
@given(st.text("ab*\\", max_size=9), st.text("ab", max_size=12))
def test_a_string_matches_its_own_pattern_with_the_stars_filled(pattern: str, filler: str) -> None:
    # Replace every unescaped * by ``filler`` and every escape by its character: a match.
    value, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            value.append(pattern[i + 1])
            i += 2
        else:
            value.append(filler if pattern[i] == "*" else pattern[i])
            i += 1
    assert compile_wildcard(pattern).matches("".join(value))


operators = st.sampled_from(
    [
        ("StringEquals", st.text("ab", max_size=2)),
        ("StringLessThan", st.text("ab", max_size=2)),
        ("StringMatches", st.text("ab*", max_size=3)),
        ("NumericEquals", st.integers(-3, 3)),
        ("NumericGreaterThanEquals", st.floats(-3, 3)),
        ("BooleanEquals", st.booleans()),
        ("TimestampLessThan", st.just("2026-01-01T00:00:00Z")),
        ("IsNull", st.booleans()),
        ("IsPresent", st.booleans()),
        ("IsString", st.booleans()),
        ("IsTimestamp", st.booleans()),
        ("NumericEqualsPath", st.sampled_from(["$.a", "$.b", "$.k"])),
        ("StringEqualsPath", st.sampled_from(["$.a", "$.b", "$$.State.Name"])),
    ]
)


@st.composite
def rules(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and draw(st.booleans()):
        kind = draw(st.sampled_from(["And", "Or", "Not"]))
        if kind == "Not":
            return {"Not": draw(rules(depth + 1))}
        return {kind: draw(st.lists(rules(depth + 1), min_size=1, max_size=3))}
    name, operand = draw(operators)
    variable = draw(st.sampled_from(["$.a", "$.b", "$.k", "$", "$.a[0]", "$$.State.Name"]))
    return {"Variable": variable, name: draw(operand)}


@settings(max_examples=200, deadline=None)
@given(rules(), json_values)
def test_any_rule_on_any_data_is_true_false_or_a_runtime_error(raw: Any, data: Any) -> None:
    rule, problems = compile_rule(raw, "/r")
    assert not problems and rule is not None, problems
    context = {"State": {"Name": "S"}}
    try:
        answer = rule.evaluate(data, context)
    except StatesError as failure:
        assert failure.error == RUNTIME
        return
    assert answer in (True, False)
    negated, _ = compile_rule({"Not": raw}, "/r")
    assert negated is not None and negated.evaluate(data, context) is (not answer)
