"""TestState: one state run in isolation, with AWS's statuses, inspection data and mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.api.errors import ApiError
from orchestrator.api.test_state import test_state as run

ROLE = "arn:aws:iam::123456789012:role/tester"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:price"


def state(definition: dict[str, Any], **params: Any) -> dict[str, Any]:
    return run({"definition": json.dumps(definition), **params}, ROLE)


def test_a_pass_state_shows_each_stage_and_its_next_state() -> None:
    answer = state(
        {
            "Type": "Pass",
            "InputPath": "$.order",
            "Parameters": {"n.$": "$.count"},
            "ResultPath": "$.seen",
            "Next": "Ship",
        },
        input='{"order": {"count": 3}}',
        inspectionLevel="DEBUG",
    )
    assert answer["status"] == "SUCCEEDED" and answer["nextState"] == "Ship"
    # ResultPath writes into the state's raw input, not into what InputPath selected.
    assert json.loads(answer["output"]) == {"order": {"count": 3}, "seen": {"n": 3}}
    data = {key: json.loads(value) for key, value in answer["inspectionData"].items()}
    assert data == {
        "input": {"order": {"count": 3}},
        "afterInputPath": {"count": 3},
        "afterParameters": {"n": 3},
        "afterResultSelector": {"n": 3},  # a Pass has none: AWS shows the value before it
        "afterResultPath": {"order": {"count": 3}, "seen": {"n": 3}},
    }
    assert "inspectionData" not in state({"Type": "Pass", "End": True})  # INFO: none


def test_a_mocked_task_result_goes_through_result_selector_and_result_path() -> None:
    answer = state(
        {
            "Type": "Task",
            "Resource": LAMBDA,
            "ResultSelector": {"total.$": "$.amount"},
            "ResultPath": "$.price",
            "End": True,
        },
        input='{"id": 7}',
        mock={"result": '{"amount": 12}'},
        inspectionLevel="TRACE",
    )
    assert answer["status"] == "SUCCEEDED" and "nextState" not in answer
    assert json.loads(answer["output"]) == {"id": 7, "price": {"total": 12}}
    assert json.loads(answer["inspectionData"]["result"]) == {"amount": 12}
    assert json.loads(answer["inspectionData"]["afterResultSelector"]) == {"total": 12}


def test_an_error_is_retriable_until_the_retrier_is_spent_then_caught() -> None:
    definition = {
        "Type": "Task",
        "Resource": LAMBDA,
        "Retry": [
            {"ErrorEquals": ["Other"], "MaxAttempts": 5},
            {"ErrorEquals": ["Busy"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2},
        ],
        "Catch": [
            {"ErrorEquals": ["Other"], "Next": "Wrong"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"},
        ],
        "End": True,
    }
    mock = {"errorOutput": {"error": "Busy", "cause": "try later"}}
    first = state(definition, mock=mock, inspectionLevel="DEBUG")
    assert (first["status"], first["error"], first["cause"]) == ("RETRIABLE", "Busy", "try later")
    assert first["inspectionData"]["errorDetails"] == {
        "retryIndex": 1,
        "retryBackoffIntervalSeconds": 2,
    }
    second = state(definition, mock=mock, stateConfiguration={"retrierRetryCount": 1})
    assert second["status"] == "RETRIABLE"
    spent = state(
        definition,
        input='{"a": 1}',
        mock=mock,
        stateConfiguration={"retrierRetryCount": 2},
        inspectionLevel="DEBUG",
    )
    assert (spent["status"], spent["nextState"]) == ("CAUGHT_ERROR", "Recover")
    assert json.loads(spent["output"]) == {"a": 1, "error": {"Error": "Busy", "Cause": "try later"}}
    assert spent["inspectionData"]["errorDetails"] == {"catchIndex": 1}


def test_an_uncaught_failure_fails_with_aws_cause() -> None:
    answer = state({"Type": "Pass", "Parameters": {"a.$": "$.missing"}, "End": True})
    assert answer["status"] == "FAILED" and answer["error"] == "States.Runtime"
    assert answer["cause"].startswith(
        "An error occurred while executing the state 'StateName' (entered at the event id #2)."
    )
    failed = state({"Type": "Fail", "Error": "Refused", "Cause": "no stock"})
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Refused", "no stock")


def test_a_state_of_a_whole_definition_with_variables_in_jsonata() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $limit > $states.input.n %}", "Next": "Small"}],
                "Default": "Large",
                "Assign": {"seen": "{% $states.input.n %}"},
            },
            "Small": {"Type": "Succeed"},
            "Large": {"Type": "Succeed"},
        },
    }
    small = state(definition, stateName="Check", input='{"n": 3}', variables='{"limit": 10}')
    assert (small["status"], small["nextState"]) == ("SUCCEEDED", "Small")
    large = state(
        definition,
        stateName="Check",
        input='{"n": 30}',
        variables='{"limit": 10}',
        inspectionLevel="DEBUG",
    )
    assert large["nextState"] == "Large"
    assert json.loads(large["inspectionData"]["variables"]) == {"limit": 10, "seen": 30}
    wait = state(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}},
        stateName="W",
        input='{"x": 1}',
    )
    assert (wait["status"], json.loads(wait["output"])) == ("SUCCEEDED", {"x": 1})


def test_a_map_of_many_items_and_a_long_wait_stay_bounded() -> None:
    import time

    started = time.perf_counter()
    each_day = {
        "Type": "Map",
        "ItemProcessor": {
            "StartAt": "Hold",
            "States": {"Hold": {"Type": "Wait", "Seconds": 86400, "End": True}},
        },
        "End": True,
    }
    # AWS runs no Map without a mock; with one, its result stands for the iterations.
    with pytest.raises(ApiError) as refused:
        state(each_day, input=json.dumps(list(range(3000))))
    assert refused.value.type == "InvalidDefinition"
    assert "does not support Map or Parallel states" in refused.value.message
    answer = state(
        each_day,
        input=json.dumps(list(range(3000))),
        mock={"result": json.dumps(list(range(3000)))},
    )
    assert answer["status"] == "SUCCEEDED" and len(json.loads(answer["output"])) == 3000
    assert time.perf_counter() - started < 60  # waits take no time; a bound, not a benchmark
    # A wait past the execution's year outlives it: said, not left without an error.
    longer = state({"Type": "Wait", "Seconds": 99999999, "End": True})
    assert (longer["status"], longer["error"]) == ("FAILED", "States.Timeout")


def test_the_given_context_is_the_whole_context_object() -> None:
    context = json.dumps({"Execution": {"Name": "given", "Input": {"x": 5}}, "Custom": [1]})
    answer = state(
        {
            "Type": "Pass",
            "Parameters": {
                "name.$": "$$.Execution.Name",
                "x.$": "$$.Execution.Input.x",
                "custom.$": "$$.Custom",
                "whole.$": "$$",
            },
            "End": True,
        },
        context=context,
    )
    # As AWS takes it: what is not given is absent (no StateMachine, no State).
    assert json.loads(answer["output"]) == {
        "name": "given",
        "x": 5,
        "custom": [1],
        "whole": json.loads(context),
    }
    empty = state({"Type": "Pass", "Parameters": {"c.$": "$$"}, "End": True}, context="{}")
    assert json.loads(empty["output"]) == {"c": {}}
    jsonata = state(
        {
            "QueryLanguage": "JSONata",
            "Type": "Pass",
            "Output": "{% $states.context.Execution.Name %}",
            "End": True,
        },
        context=context,
    )
    assert json.loads(jsonata["output"]) == "given"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (
            {"definition": json.dumps({"Type": "Task", "Resource": LAMBDA, "End": True})},
            "ValidationException",
        ),
        ({"definition": "{not json"}, "InvalidDefinition"),
        ({"definition": json.dumps({"Type": "Pass", "Nxt": "A"})}, "InvalidDefinition"),
        ({"definition": json.dumps({"StartAt": "A", "States": {}})}, "ValidationException"),
        (
            {"definition": json.dumps({"Type": "Pass", "End": True}), "input": "[oops"},
            "InvalidExecutionInput",
        ),
        (
            {"definition": json.dumps({"Type": "Pass", "End": True}), "context": "[1]"},
            "ValidationException",
        ),
        # Hostile nesting: refused as it is read, never recursed into.
        (
            {
                "definition": json.dumps({"Type": "Pass", "End": True}),
                "input": "[" * 100_000 + "]" * 100_000,
            },
            "InvalidExecutionInput",
        ),
        ({"definition": "{" * 100_000}, "InvalidDefinition"),
    ],
)
def test_bad_requests_are_refused_with_what_is_wrong(params: dict[str, Any], code: str) -> None:
    with pytest.raises(ApiError) as caught:
        run(params, ROLE)
    assert caught.value.type == code, caught.value.message
