"""JSONPath forms AWS accepts that jsonpath-ng does not, and the bounds on paths and calls."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.intrinsics import compile_intrinsic
from orchestrator.asl.loader import load_definition
from orchestrator.asl.paths import MAX_PATH_DEPTH, compile_path, compile_reference_path
from orchestrator.local_runner import run_local

DATA: dict[str, Any] = {
    "items": [{"x": 1, "n": "a"}, {"x": 2, "n": "b"}, {"x": 1, "n": "c"}],
    "a": [5, 6, 7],
}


@pytest.mark.parametrize(
    ("dotted", "plain"),
    [
        ("$.items.[?(@.x == 1)]", "$.items[?(@.x == 1)]"),
        ("$.items.[?(@.x == 1)].n", "$.items[?(@.x == 1)].n"),
        ("$.a.[0]", "$.a[0]"),
        ("$.a.[2]", "$.a[2]"),
        ("$.a.[*]", "$.a[*]"),
        ("$.a.[0:2]", "$.a[0:2]"),
        ("$.['a'].[1]", "$['a'][1]"),
        ("$.items.[1].n", "$.items[1].n"),
    ],
)
def test_a_dot_before_a_bracket_reads_as_the_bracket_alone(dotted: str, plain: str) -> None:
    path, expected = compile_path(dotted), compile_path(plain)
    assert path.text == dotted  # error messages quote the path as written
    assert path.definite == expected.definite
    assert path.read(DATA) == expected.read(DATA)


def test_a_deep_scan_before_a_bracket_keeps_both_dots() -> None:
    assert compile_path("$..[0]").read(DATA) == [DATA["items"][0], DATA["a"][0]]


def test_a_dot_before_a_bracket_inside_quotes_is_part_of_the_name() -> None:
    assert compile_path("$['a.[b']").read({"a.[b": 3}) == 3


def test_a_definite_dotted_index_is_definite_as_on_aws() -> None:
    # Jayway treats $.a.[0] as $.a[0]: one value, not a list of matches.
    assert compile_path("$.a.[1]").read(DATA) == 6
    assert compile_reference_path("$.a.[1]").write(DATA, "x")["a"] == [5, "x", 7]


def run_pass(state: dict[str, Any], data: Any) -> Any:
    document = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, **state}}}
    result = run_local(load_definition(json.dumps(document), name="M"), data, {})
    assert result.state.status == "SUCCEEDED", (result.state.error, result.state.cause)
    return result.state.output


def test_a_state_reads_values_through_the_dotted_forms() -> None:
    assert run_pass({"InputPath": "$.items.[?(@.x == 1)]"}, DATA) == run_pass(
        {"InputPath": "$.items[?(@.x == 1)]"}, DATA
    )
    assert run_pass({"InputPath": "$.items.[?(@.x == 1)]"}, DATA) == [
        {"x": 1, "n": "a"},
        {"x": 1, "n": "c"},
    ]
    output = run_pass(
        {
            "Parameters": {
                "first.$": "$.a.[0]",
                "all.$": "$.a.[*]",
                "names.$": "$.items.[?(@.x == 1)].n",
                "count.$": "States.ArrayLength($.a.[*])",
            },
            "ResultPath": "$.out",
            "OutputPath": "$.out",
        },
        DATA,
    )
    assert output == {"first": 5, "all": [5, 6, 7], "names": ["a", "c"], "count": 3}


def test_a_choice_variable_reads_through_a_dotted_index() -> None:
    document = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.a.[1]", "NumericEquals": 6, "Next": "Yes"}],
                "Default": "No",
            },
            "Yes": {"Type": "Pass", "Result": "yes", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }
    result = run_local(load_definition(json.dumps(document), name="M"), DATA, {})
    assert result.state.output == "yes"


def test_a_path_nested_too_deep_for_the_evaluator_is_refused_when_loaded() -> None:
    # jsonpath-ng reads its expression tree recursively: hundreds of steps would raise
    # RecursionError when the state runs, so such a path is refused up front.
    compile_path("$" + "[*]" * 20)
    with pytest.raises(ValueError, match=f"more than {MAX_PATH_DEPTH} steps deep"):
        compile_path("$" + "[*]" * 500)
    document = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "InputPath": "$" + "[*]" * 500, "End": True}},
    }
    with pytest.raises(DefinitionError) as caught:
        load_definition(json.dumps(document), name="M")
    (problem,) = caught.value.problems
    assert (problem.code, problem.pointer) == ("INVALID_JSONPATH", "/States/P/InputPath")
    assert len(problem.message) < 300  # the path is quoted, not copied whole


@pytest.mark.parametrize(
    "text", ["$&0", "$.a[?(@.b + 1 > 2)]", "$.a where $.b", "$.a wherenot $.b", "$.a[*].`parent`"]
)
def test_jsonpath_ng_extensions_aws_does_not_have_are_refused(text: str) -> None:
    # `$&0` compiled before and raised NotImplementedError when a state read it.
    with pytest.raises(ValueError, match="not JSONPath as AWS reads it"):
        compile_path(text)


def test_a_huge_nested_intrinsic_call_is_refused_at_once_with_a_short_message() -> None:
    depth = 650_000 // len("States.Array()")
    text = "States.Array(" * depth + "$.a" + ")" * depth
    started = time.perf_counter()
    with pytest.raises(ValueError, match="nest more than 10 deep") as caught:
        compile_intrinsic(text)
    assert time.perf_counter() - started < 0.5
    assert len(str(caught.value)) < 400


def test_a_syntax_error_late_in_a_long_call_quotes_only_its_surroundings() -> None:
    text = "States.Array(" + ", ".join(["$.a"] * 20_000) + ", ?)"
    with pytest.raises(ValueError) as caught:
        compile_intrinsic(text)
    message = str(caught.value)
    assert "unexpected character '?'" in message
    assert f"column {len(text) - 1}" in message
    assert len(message) < 400
