"""A step's data-flow stages, recomputed from the definition and checked against the run."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.asl.loader import load_definition
from orchestrator.console.progress import progress
from orchestrator.console.stages import data_flow
from orchestrator.local_runner import FakeClock, run_local
from workers.runtime import Function

ARN = "arn:aws:lambda:us-east-1:111111111111:function:"


def _price(event: Any, context: Any) -> Any:
    return {"amount": event["quantity"] * 3, "currency": "EUR", "audit": "x" * 10}


def stages_of(document: dict[str, Any], data: Any, state: str) -> dict[str, Any]:
    machine = load_definition(json.dumps(document), name="M")
    result = run_local(
        machine, data, {"price": Function.from_handler("price", _price)}, clock=FakeClock()
    )
    read = progress([event.to_aws() for event in result.history])
    (step,) = [s for s in read["steps"] if s["name"] == state]
    return {stage["stage"]: stage.get("value", stage) for stage in data_flow(machine, step)}


def test_a_jsonpath_task_shows_every_stage_of_its_data_flow() -> None:
    document = {
        "StartAt": "Price",
        "States": {
            "Price": {
                "Type": "Task",
                "Resource": ARN + "price",
                "InputPath": "$.order",
                "Parameters": {"quantity.$": "$.count"},
                "ResultSelector": {"total.$": "$.amount", "currency.$": "$.currency"},
                "ResultPath": "$.price",
                "OutputPath": "$.price",
                "End": True,
            }
        },
    }
    stages = stages_of(document, {"order": {"count": 4, "id": "o-1"}}, "Price")
    assert stages["State input"] == {"order": {"count": 4, "id": "o-1"}}
    assert stages["After InputPath"] == {"count": 4, "id": "o-1"}
    assert stages["After Parameters"] == {"quantity": 4}
    assert stages["Task result"] == {"amount": 12, "currency": "EUR", "audit": "x" * 10}
    assert stages["After ResultSelector"] == {"total": 12, "currency": "EUR"}
    # ResultPath writes into the state's raw input (AWS's order), then OutputPath selects.
    assert stages["After ResultPath"] == {
        "order": {"count": 4, "id": "o-1"},
        "price": {"total": 12, "currency": "EUR"},
    }
    assert stages["State output (after OutputPath)"] == {"total": 12, "currency": "EUR"}


def test_a_stage_that_reads_the_context_is_not_guessed() -> None:
    document = {
        "StartAt": "Price",
        "States": {
            "Price": {
                "Type": "Task",
                "Resource": ARN + "price",
                "Parameters": {"quantity.$": "$.count"},
                "ResultSelector": {"total.$": "$.amount", "run.$": "$$.Execution.Name"},
                "End": True,
            }
        },
    }
    stages = stages_of(document, {"count": 2}, "Price")
    assert stages["After ResultSelector"] == {
        "stage": "After ResultSelector",
        "field": "ResultSelector",
        "known": False,
    }
    assert stages["After ResultPath"]["known"] is False


def test_a_jsonata_task_shows_its_arguments_result_and_output() -> None:
    document = {
        "QueryLanguage": "JSONata",
        "StartAt": "Price",
        "States": {
            "Price": {
                "Type": "Task",
                "Resource": ARN + "price",
                "Arguments": {"quantity": "{% $states.input.n %}"},
                "Output": "{% $states.result.amount %}",
                "End": True,
            }
        },
    }
    stages = stages_of(document, {"n": 5}, "Price")
    assert stages == {
        "State input": {"n": 5},
        "Arguments": {"quantity": 5},
        "Result": {"amount": 15, "currency": "EUR", "audit": "x" * 10},
        "State output (Output)": 15,
    }
