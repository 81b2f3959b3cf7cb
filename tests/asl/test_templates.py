"""Payload templates (Parameters, ResultSelector): paths, static values and intrinsics."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from orchestrator.asl.errors import RUNTIME, StatesError
from orchestrator.asl.templates import Template, compile_template


def compiled(raw: Any) -> Template:
    template, problems = compile_template(raw, "/States/S/Parameters")
    assert problems == []
    assert template is not None
    return template


def problems_of(raw: Any) -> list[tuple[str, str, str]]:
    template, problems = compile_template(raw, "/States/S/Parameters")
    assert template is None
    return problems


def test_static_values_paths_and_context_paths() -> None:
    template = compiled(
        {"fixed": {"a": [1, {"b": 2}]}, "from.$": "$.x", "ctx.$": "$$.Execution.Name", "n": None}
    )
    rendered = template.render({"x": [1]}, {"Execution": {"Name": "E"}})
    assert rendered == {"fixed": {"a": [1, {"b": 2}]}, "from": [1], "ctx": "E", "n": None}


def test_a_missing_path_names_the_field() -> None:
    with pytest.raises(StatesError) as caught:
        compiled({"value.$": "$.no"}).render({"a": 1}, {})
    assert (caught.value.error, caught.value.cause) == (
        RUNTIME,
        "The JSONPath '$.no' specified for the field 'value.$' could not be found in the input"
        " '{\"a\":1}'",
    )


def test_intrinsics_are_evaluated_when_rendering() -> None:
    template = compiled(
        {
            "greeting.$": "States.Format('Hello {}, {}', $.name, States.ArrayLength($.items))",
            "nested": [{"split.$": "States.StringSplit($$.Execution.Name, '-')"}],
        }
    )
    context = {"Execution": {"Name": "a-b"}}
    assert template.render({"name": "Ada", "items": [1, 2]}, context) == {
        "greeting": "Hello Ada, 2",
        "nested": [{"split": ["a", "b"]}],
    }


def test_an_intrinsic_path_that_selects_nothing_names_the_field() -> None:
    with pytest.raises(StatesError) as caught:
        compiled({"value.$": "States.Base64Encode($.missing)"}).render({}, {})
    assert caught.value.cause == (
        "The JSONPath '$.missing' specified for the field 'value.$' could not be found in the"
        " input '{}'"
    )


def test_an_intrinsic_failure_is_a_runtime_error() -> None:
    with pytest.raises(StatesError) as caught:
        compiled({"value.$": "States.ArrayGetItem($.a, 5)"}).render({"a": [1]}, {})
    assert (caught.value.error, caught.value.cause) == (
        RUNTIME,
        "Invalid arguments in States.ArrayGetItem",
    )


def test_randomness_comes_from_the_given_rng() -> None:
    template = compiled({"id.$": "States.UUID()", "n.$": "States.MathRandom(0, 1000)"})
    assert template.uses_random
    first = template.render({}, {}, random.Random(5))
    assert first == template.render({}, {}, random.Random(5))
    assert uuid.UUID(first["id"]).version == 4
    other = template.render({}, {})  # without a generator: still works, not reproducible
    assert uuid.UUID(other["id"]).version == 4
    assert not compiled({"a.$": "States.Array()"}).uses_random


@pytest.mark.parametrize(
    ("value", "code", "message"),
    [
        ("States.Nope(1)", "INVALID_INTRINSIC", "unknown intrinsic function 'States.Nope'"),
        ("States.Format('x'", "INVALID_INTRINSIC", "expected ',' or ')' after an argument"),
        ("States.ArrayRange(1, 2)", "INVALID_INTRINSIC", "takes 3 arguments, got 2"),
        ("$.a[", "INVALID_JSONPATH", "is not a valid JSONPath"),
    ],
)
def test_bad_dynamic_values_are_problems_with_a_pointer(
    value: str, code: str, message: str
) -> None:
    (problem,) = problems_of({"ok": 1, "deep": {"value.$": value}})
    assert problem[0] == code
    assert problem[1].startswith("'value.$': ")
    assert message in problem[1]
    assert problem[2] == "/States/S/Parameters/deep/value.$"


def test_every_problem_is_reported() -> None:
    problems = problems_of({"a.$": "States.Nope()", "b.$": 3, "c": [{"d.$": "States.UUID("}]})
    assert [(code, pointer) for code, _, pointer in problems] == [
        ("INVALID_INTRINSIC", "/States/S/Parameters/a.$"),
        ("INVALID_TYPE", "/States/S/Parameters/b.$"),
        ("INVALID_INTRINSIC", "/States/S/Parameters/c/0/d.$"),
    ]


def test_templates_are_compiled_once() -> None:
    template = compiled({"v.$": "States.MathAdd($.n, 1)"})
    assert [template.render({"n": n}, {}) for n in range(3)] == [{"v": 1}, {"v": 2}, {"v": 3}]
