"""Workflow variables in JSONPath states: Assign, $name references, scopes and AWS's order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.execution import ExecutionState
from orchestrator.asl.loader import load_definition
from orchestrator.local_runner import FakeClock, LocalResult, run_local
from workers.runtime import Function

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def run(states: dict[str, Any], data: Any = None, **functions: Any) -> LocalResult:
    machine = load_definition(
        json.dumps({"StartAt": next(iter(states)), "States": states}), name="M"
    )
    handlers = {name: Function(name, handler) for name, handler in functions.items()}
    return run_local(machine, {} if data is None else data, handlers, clock=FakeClock())


def test_a_variable_is_read_by_later_states_paths_parameters_and_choices() -> None:
    result = run(
        {
            "Set": {
                "Type": "Pass",
                "Result": {"limit": 3, "name": "ada"},
                "Assign": {"limit.$": "$.limit", "who.$": "$.name", "fixed": [1, 2]},
                "Next": "Check",
            },
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$limit", "NumericGreaterThan": 2, "Next": "Use"}],
                "Default": "Fail",
            },
            "Use": {
                "Type": "Pass",
                "Parameters": {
                    "who.$": "$who",
                    "second.$": "$fixed[1]",
                    "text.$": "States.Format('{} x{}', $who, $limit)",
                },
                "End": True,
            },
            "Fail": {"Type": "Fail"},
        }
    )
    assert result.state.output == {"who": "ada", "second": 2, "text": "ada x3"}


def test_assign_values_see_the_old_variables_and_outputpath_too() -> None:
    result = run(
        {
            "One": {"Type": "Pass", "Assign": {"a": 1}, "Next": "Two"},
            "Two": {
                "Type": "Pass",
                "Assign": {"a": 2, "b.$": "$a"},  # b gets the a before this state: 1
                "OutputPath": "$a",  # the state's own OutputPath sees the old a
                "Next": "Three",
            },
            "Three": {
                "Type": "Pass",
                "Parameters": {"a.$": "$a", "b.$": "$b", "was.$": "$"},
                "End": True,
            },
        }
    )
    assert result.state.output == {"a": 2, "b": 1, "was": 1}
    exited = [e.details for e in result.history if e.type == "PassStateExited"]
    assert exited[1] is not None
    assert exited[1]["assignedVariables"] == {"a": "2", "b": "1"}
    assert exited[1]["assignedVariablesDetails"] == {"truncated": False}


def test_map_iterations_read_outer_variables_and_keep_their_own() -> None:
    result = run(
        {
            "Set": {"Type": "Pass", "Assign": {"x": 10, "items": [1, 2]}, "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemsPath": "$items",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Pass",
                            "Assign": {"x": 99},
                            "Parameters": {"outer.$": "$x", "item.$": "$"},
                            "End": True,
                        }
                    },
                },
                "ResultPath": "$.items",
                "Next": "After",
            },
            "After": {
                "Type": "Pass",
                "Parameters": {"x.$": "$x", "items.$": "$.items"},
                "End": True,
            },
        }
    )
    assert result.state.output == {
        "x": 10,
        "items": [{"outer": 10, "item": 1}, {"outer": 10, "item": 2}],
    }


def test_task_and_catcher_assign_from_their_result_and_error_output() -> None:
    def ok(event: Any, context: Any) -> Any:
        return {"id": 7}

    def boom(event: Any, context: Any) -> Any:
        raise ValueError("no")

    result = run(
        {
            "Get": {
                "Type": "Task",
                "Resource": LAMBDA + "Ok",
                "ResultSelector": {"picked.$": "$.id"},
                "Assign": {"id.$": "$.picked"},
                "Next": "Break",
            },
            "Break": {
                "Type": "Task",
                "Resource": LAMBDA + "Boom",
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error"}, "Next": "Done"}
                ],
                "End": True,
            },
            "Done": {"Type": "Pass", "Parameters": {"id.$": "$id", "err.$": "$err"}, "End": True},
        },
        Ok=ok,
        Boom=boom,
    )
    assert result.state.output == {"id": 7, "err": "ValueError"}


def test_an_unknown_variable_is_a_runtime_error() -> None:
    result = run({"Use": {"Type": "Pass", "InputPath": "$nothing", "End": True}})
    assert (result.state.status, result.state.error) == ("FAILED", "States.Runtime")


def test_variables_are_kept_with_the_execution_state() -> None:
    result = run(
        {
            "Set": {"Type": "Pass", "Assign": {"kept": {"a": [1]}}, "Next": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Use"},
            "Use": {"Type": "Pass", "InputPath": "$kept", "End": True},
        }
    )
    assert result.state.output == {"a": [1]}
    stored = ExecutionState.model_validate_json(result.state.model_dump_json())
    assert stored == result.state


@pytest.mark.parametrize(
    ("state", "pointer"),
    [
        ({"Type": "Pass", "Assign": {"bad name": 1}, "End": True}, "/States/A/Assign/bad name"),
        ({"Type": "Pass", "Assign": [1], "End": True}, "/States/A/Assign"),
        ({"Type": "Succeed", "Assign": {"x": 1}}, "/States/A/Assign"),
        ({"Type": "Pass", "ResultPath": "$x", "End": True}, "/States/A/ResultPath"),
    ],
)
def test_bad_assignments_are_refused_where_they_are(state: dict[str, Any], pointer: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition(json.dumps({"StartAt": "A", "States": {"A": state}}), name="M")
    assert pointer in [problem.pointer for problem in caught.value.problems]


def test_one_assign_is_held_to_256_kib_in_either_language() -> None:
    for language, value in (("JSONPath", {"x.$": "$.a", "y.$": "$.a"}), ("JSONata", None)):
        assign = value or {"x": "{% $states.input.a %}", "y": "{% $states.input.a %}"}
        state = {"Type": "Pass", "QueryLanguage": language, "Assign": assign, "End": True}
        failed = run({"A": state}, {"a": "a" * 150_000}).state
        assert failed.error == "States.DataLimitExceeded", language
        assert failed.cause == (
            "The Assign of the state 'A' produced a value with a size exceeding the maximum"
            " number of bytes service limit."
        )


def test_the_variables_of_an_execution_are_held_to_10_mib() -> None:
    # 200 KB a variable: the 53rd makes 10.6 MB, past AWS's 10 MiB.
    names = [f"S{i}" for i in range(1, 61)]
    states = {
        name: {
            "Type": "Pass",
            "Assign": {f"v{i}.$": "$.s"},
            **({"Next": names[i]} if i < len(names) else {"End": True}),
        }
        for i, name in enumerate(names, start=1)
    }
    result = run(states, {"s": "x" * 200_000})
    assert result.state.error == "States.DataLimitExceeded"
    assert (result.state.cause or "").startswith(
        "The Assign of the state 'S53' would make the execution's variables"
    )
    exited = [e for e in result.history if e.type == "PassStateExited"]
    assert len(exited) == 52
