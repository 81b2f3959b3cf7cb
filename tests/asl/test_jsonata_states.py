"""JSONata Pass, Choice, Wait, Succeed and Fail states, and their variables."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from orchestrator.asl.loader import load_definition
from orchestrator.local_runner import FakeClock, LocalResult, run_local


def run(
    states: dict[str, Any], data: Any, clock: FakeClock | None = None, **top: Any
) -> LocalResult:
    document = {"QueryLanguage": "JSONata", "StartAt": next(iter(states)), "States": states, **top}
    machine = load_definition(json.dumps(document), name="M")
    return run_local(machine, data, {}, clock=clock or FakeClock())


def test_output_and_assign_see_the_input_and_the_old_variables() -> None:
    result = run(
        {
            "First": {
                "Type": "Pass",
                "Assign": {"total": "{% $sum($states.input.items) %}", "n": 1},
                "Output": {"count": "{% $count($states.input.items) %}"},
                "Next": "Second",
            },
            "Second": {
                "Type": "Pass",
                "Assign": {"n": 2, "was": "{% $n %}"},
                "Output": "{% {'count': $states.input.count, 'total': $total, 'n': $n} %}",
                "Next": "Third",
            },
            "Third": {
                "Type": "Succeed",
                "Output": "{% $merge([$states.input, {'was': $was, 'n': $n}]) %}",
            },
        },
        {"items": [1, 2, 3]},
    )
    assert result.state.output == {"count": 3, "total": 6, "n": 2, "was": 1}


def test_choice_conditions_defaults_and_rule_outputs() -> None:
    states = {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {
                    "Condition": "{% $states.input.n > 10 %}",
                    "Output": {"size": "big"},
                    "Assign": {"seen": "{% $states.input.n %}"},
                    "Next": "Done",
                }
            ],
            "Default": "Done",
            "Output": {"size": "small"},
        },
        "Done": {
            "Type": "Pass",
            "Output": "{% $merge([$states.input, {'seen': $exists($seen)}]) %}",
            "End": True,
        },
    }
    assert run(states, {"n": 11}).state.output == {"size": "big", "seen": True}
    assert run(states, {"n": 1}).state.output == {"size": "small", "seen": False}


def test_a_wait_of_an_expression_and_a_fail_of_expressions() -> None:
    clock = FakeClock()
    start = clock.now()
    result = run(
        {
            "Wait": {"Type": "Wait", "Seconds": "{% $states.input.wait * 2 %}", "Next": "Stop"},
            "Stop": {
                "Type": "Fail",
                "Error": "{% 'Too' & 'Late' %}",
                "Cause": "{% 'waited ' & $string($states.input.wait * 2) %}",
            },
        },
        {"wait": 30},
        clock,
    )
    assert clock.now() - start == timedelta(seconds=60)
    assert (result.state.error, result.state.cause) == ("TooLate", "waited 60")


def test_an_expression_that_fails_is_a_query_evaluation_error_naming_the_state() -> None:
    result = run(
        {"Bad": {"Type": "Pass", "Output": "{% $states.input.missing %}", "End": True}}, {}
    )
    assert result.state.status == "FAILED"
    assert result.state.error == "States.QueryEvaluationError"
    assert result.state.cause is not None
    assert result.state.cause.startswith(
        "An error occurred while executing the state 'Bad' (entered at the event id #2)."
    )


def test_jsonpath_and_jsonata_states_share_variables() -> None:
    document = {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"x.$": "$.x"}, "Next": "Use"},
            "Use": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": "{% $x * 2 %}",
                "End": True,
            },
        },
    }
    machine = load_definition(json.dumps(document), name="M")
    assert run_local(machine, {"x": 21}, {}, clock=FakeClock()).state.output == 42
