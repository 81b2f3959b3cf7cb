"""JSONata Task, Parallel and Map states: Arguments, ``$states.result``, Output and Assign,
Catch with ``$states.errorOutput``, Items and ItemSelector, and limits given as expressions."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.asl.loader import load_definition
from orchestrator.local_runner import FakeClock, LocalResult, run_local
from workers.runtime import Function

ARN = "arn:aws:lambda:us-east-1:111111111111:function:"


class Refused(Exception):
    """What the refusing function raises."""


def _double(event: Any, context: Any) -> Any:
    return {"doubled": event["n"] * 2}


def _refuse(event: Any, context: Any) -> Any:
    raise Refused(f"no {event['n']}")


FUNCTIONS = {
    "double": Function.from_handler("double", _double),
    "refuse": Function.from_handler("refuse", _refuse),
}


def run(states: dict[str, Any], data: Any) -> LocalResult:
    document = {"QueryLanguage": "JSONata", "StartAt": next(iter(states)), "States": states}
    machine = load_definition(json.dumps(document), name="M")
    return run_local(machine, data, FUNCTIONS, clock=FakeClock())


def events(result: LocalResult, kind: str) -> list[dict[str, Any]]:
    return [event.details or {} for event in result.history if event.type == kind]


def test_a_task_sends_its_arguments_and_outputs_its_result_by_default() -> None:
    result = run(
        {
            "Call": {
                "Type": "Task",
                "Resource": ARN + "double",
                "Arguments": {"n": "{% $states.input.value + 1 %}"},
                "Assign": {"sent": "{% $states.input.value %}", "got": "{% $states.result %}"},
                "Next": "Show",
            },
            "Show": {
                "Type": "Pass",
                "Output": "{% {'result': $states.input, 'sent': $sent, 'got': $got} %}",
                "End": True,
            },
        },
        {"value": 20},
    )
    assert result.state.output == {
        "result": {"doubled": 42},
        "sent": 20,
        "got": {"doubled": 42},
    }
    (scheduled,) = events(result, "LambdaFunctionScheduled")
    assert json.loads(scheduled["input"]) == {"n": 21}
    (exited,) = [e for e in events(result, "TaskStateExited")]
    assert exited["assignedVariables"] == {"sent": "20", "got": '{"doubled":42}'}


def test_without_arguments_a_task_sends_its_input_and_output_shapes_the_result() -> None:
    result = run(
        {
            "Call": {
                "Type": "Task",
                "Resource": ARN + "double",
                "Output": {"input": "{% $states.input %}", "twice": "{% $states.result.doubled %}"},
                "End": True,
            }
        },
        {"n": 4},
    )
    assert result.state.output == {"input": {"n": 4}, "twice": 8}


def test_a_catcher_outputs_and_assigns_the_error_output() -> None:
    result = run(
        {
            "Call": {
                "Type": "Task",
                "Resource": ARN + "refuse",
                "Assign": {"never": 1},
                "Catch": [
                    {
                        "ErrorEquals": ["Refused"],
                        "Assign": {"error": "{% $states.errorOutput.Error %}"},
                        "Output": {
                            "was": "{% $states.input %}",
                            "cause": "{% $states.errorOutput.Cause %}",
                        },
                        "Next": "Handled",
                    }
                ],
                "End": True,
            },
            "Handled": {
                "Type": "Pass",
                "Output": "{% $merge([$states.input, {'error': $error, 'never': $exists($never)}]) %}",
                "End": True,
            },
        },
        {"n": 3},
    )
    output = result.state.output
    assert output["was"] == {"n": 3}
    assert output["error"] == "Refused"
    assert output["never"] is False  # the failed state's own Assign is dropped
    assert json.loads(output["cause"])["errorMessage"] == "no 3"


def test_a_catcher_without_output_passes_the_error_output_on() -> None:
    result = run(
        {
            "Call": {
                "Type": "Task",
                "Resource": ARN + "refuse",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
        {"n": 1},
    )
    assert result.state.output["Error"] == "Refused"


def test_timeout_seconds_as_an_expression_is_scheduled_and_checked() -> None:
    task = {
        "Type": "Task",
        "Resource": ARN + "double",
        "TimeoutSeconds": "{% $states.input.limit %}",
        "End": True,
    }
    result = run({"Call": task}, {"n": 1, "limit": 30})
    (scheduled,) = events(result, "LambdaFunctionScheduled")
    assert scheduled["timeoutInSeconds"] == 30
    result = run({"Call": task}, {"n": 1, "limit": "soon"})
    assert (result.state.status, result.state.error) == ("FAILED", "States.QueryEvaluationError")
    assert "specified for the field 'TimeoutSeconds'" in (result.state.cause or "")
    assert "Expected 'integer', but was 'string'" in (result.state.cause or "")


def test_a_map_iterates_items_through_its_item_selector() -> None:
    result = run(
        {
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.numbers %}",
                "ItemSelector": {
                    "n": "{% $states.context.Map.Item.Value %}",
                    "at": "{% $states.context.Map.Item.Index %}",
                    "label": "{% $states.input.label %}",
                },
                "MaxConcurrency": "{% $states.input.width %}",
                "ItemProcessor": {
                    "StartAt": "Call",
                    "States": {
                        "Call": {
                            "Type": "Task",
                            "Resource": ARN + "double",
                            "Output": "{% $states.input.label & $string($states.input.at) & '=' & $string($states.result.doubled) %}",
                            "End": True,
                        }
                    },
                },
                "Output": "{% $join($states.result, ',') %}",
                "End": True,
            }
        },
        {"numbers": [1, 2, 3], "label": "x", "width": 2},
    )
    assert result.state.output == "x0=2,x1=4,x2=6"


def test_a_map_without_items_needs_an_array_input() -> None:
    processor = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    states = {"Each": {"Type": "Map", "ItemProcessor": processor, "End": True}}
    assert run(states, [1, 2]).state.output == [1, 2]
    failed = run(states, {"a": 1}).state
    assert failed.error == "States.QueryEvaluationError"
    assert (failed.cause or "").endswith('Map state input must be an array but was: {"a":1}')
    states["Each"]["Items"] = "{% $states.input.a %}"
    failed = run(states, {"a": 1}).state
    assert (failed.cause or "").endswith(
        "The JSONata expression '$states.input.a' specified for the field 'Items' returned an"
        " unexpected result type. Expected 'array', but was 'number' for value: 1"
    )


def test_a_map_tolerates_failures_given_as_an_expression() -> None:
    processor = {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": ARN + "refuse", "End": True}},
    }
    states = {
        "Each": {
            "Type": "Map",
            "Items": "{% $states.input %}",
            "ItemSelector": {"n": "{% $states.context.Map.Item.Value %}"},
            "ToleratedFailureCount": "{% $count($states.input) %}",
            "ItemProcessor": processor,
            "Output": "{% $count($states.result) %}",
            "End": True,
        }
    }
    assert run(states, [1, 2]).state.output == 2


def test_a_parallel_sends_its_arguments_to_every_branch() -> None:
    def branch(name: str, output: str) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Pass", "Output": output, "End": True}}}

    result = run(
        {
            "Both": {
                "Type": "Parallel",
                "Arguments": {"n": "{% $states.input.n * 10 %}"},
                "Branches": [
                    branch("Plus", "{% $states.input.n + 1 %}"),
                    branch("Minus", "{% $states.input.n - 1 %}"),
                ],
                "Assign": {"sum": "{% $sum($states.result) %}"},
                "Output": {"each": "{% $states.result %}", "input": "{% $states.input %}"},
                "Next": "Sum",
            },
            "Sum": {"Type": "Pass", "Output": "{% $sum %}", "End": True},
        },
        {"n": 2},
    )
    assert result.state.output == 40
    exited = events(result, "ParallelStateExited")[0]
    assert json.loads(exited["output"]) == {"each": [21, 19], "input": {"n": 2}}


def test_a_jsonata_state_inside_a_jsonpath_machine_keeps_its_language() -> None:
    document = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "Items": "{% $states.input.xs %}",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}},
                },
                "Output": "{% $states.result.v %}",
                "End": True,
            }
        },
    }
    machine = load_definition(json.dumps(document), name="M")
    result = run_local(machine, {"xs": [1, 2]}, FUNCTIONS, clock=FakeClock())
    assert result.state.output == [1, 2]
