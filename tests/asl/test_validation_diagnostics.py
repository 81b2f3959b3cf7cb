"""ValidateStateMachineDefinition's answer: AWS's codes, messages and locations.

The expected answers marked "recorded" are AWS's own, as recorded in LocalStack's
``test_sfn_api_validation.snapshot.json`` and in floci-io/floci#2735/#2786 (measured with
``aws stepfunctions validate-state-machine-definition``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.asl.diagnostics import MAX_RESULTS, aws_diagnostics

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:F"


def diagnose(document: Any, **options: Any) -> dict[str, Any]:
    text = document if isinstance(document, str) else json.dumps(document)
    return aws_diagnostics(text, **options)


def error(code: str, message: str, location: str | None = None) -> dict[str, str]:
    found = {"severity": "ERROR", "code": code, "message": message}
    if location is not None:
        found["location"] = location
    return found


def test_a_valid_definition_is_ok() -> None:
    answer = diagnose({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    assert answer == {"result": "OK", "diagnostics": [], "truncated": False}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # recorded: EMPTY_STRING (a blank definition) and EMPTY_DICT
        (" ", error("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object")),
        (
            "{}",
            error("SCHEMA_VALIDATION_FAILED", "These fields are required: [States, StartAt]", "/"),
        ),
        # recorded: INVALID_BASE_NO_STARTAT
        (
            json.dumps({"States": {"A": {"Type": "Succeed"}}}),
            error("SCHEMA_VALIDATION_FAILED", "These fields are required: [StartAt]", "/"),
        ),
        ("", error("MISSING_DESCRIPTION", "Received a null or empty workflow input")),
        ("[1, 2]", error("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object")),
    ],
)
def test_definitions_that_are_not_state_machines(text: str, expected: dict[str, str]) -> None:
    assert diagnose(text) == {"result": "FAIL", "diagnostics": [expected], "truncated": False}


def test_invalid_json_is_located_as_aws_parser_locates_it() -> None:
    (found,) = diagnose("not a definition")["diagnostics"]
    assert found["code"] == "INVALID_JSON_DESCRIPTION"
    location = '[Source: (String)"not a definition"; line: 1, column: 1]'
    assert found["location"] == location
    assert found["message"].endswith(f"\n at {location}")


def test_invalid_json_of_a_long_definition_quotes_only_its_start() -> None:
    text = '{"Comment": "' + "x" * 2000 + '", "StartAt": '
    (found,) = diagnose(text)["diagnostics"]
    assert found["location"].startswith('[Source: (String)"{"Comment": "xxx')
    assert f"[truncated {len(text) - 500} chars]; line: 1, column: " in found["location"]
    assert len(found["location"]) < 600


def test_a_missing_brace_is_located_near_it() -> None:
    text = (
        '{\n  "StartAt": "A",\n  "States": {\n    "A": {\n      "Type": "Pass",\n'
        '      "Next": "B"\n    ,\n    "B": {"Type": "Succeed"}\n  }\n}\n'
    )
    (found,) = diagnose(text)["diagnostics"]
    assert found["code"] == "INVALID_JSON_DESCRIPTION"
    assert found["location"].endswith("; line: 7, column: 5]")
    assert "'}' is probably missing" in found["message"]


def test_no_terminal_state_has_no_location() -> None:
    # recorded: the bare loop A -> B -> A gives one diagnostic and no location field at all;
    # a state nothing routes to is not reported as well.
    states = {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "A"},
        "C": {"Type": "Pass", "Next": "A"},
    }
    assert diagnose({"StartAt": "A", "States": states})["diagnostics"] == [
        error("MISSING_END_STATE", "Workflow has no terminal state")
    ]


def test_a_dangling_target_and_no_terminal_state_come_in_that_order() -> None:
    # recorded: "Missing 'Next' target: NOPE" at /States/A/Next, then MISSING_END_STATE.
    answer = diagnose({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "NOPE"}}})
    assert answer["diagnostics"] == [
        error("MISSING_TRANSITION_TARGET", "Missing 'Next' target: NOPE", "/States/A/Next"),
        error("MISSING_END_STATE", "Workflow has no terminal state"),
    ]


def test_targets_in_arrays_are_located_with_brackets_and_called_next() -> None:
    # recorded: the word 'Next' whatever the field, and /States/C/Choices[0]/Next.
    states = {
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "X"}],
            "Default": "Y",
        },
        "T": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
            "End": True,
        },
    }
    found = diagnose({"StartAt": "C", "States": states})["diagnostics"]
    assert (
        error("MISSING_TRANSITION_TARGET", "Missing 'Next' target: X", "/States/C/Choices[0]/Next")
        in found
    )
    assert (
        error("MISSING_TRANSITION_TARGET", "Missing 'Next' target: Y", "/States/C/Default") in found
    )
    assert (
        error("MISSING_TRANSITION_TARGET", "Missing 'Next' target: Z", "/States/T/Catch[0]/Next")
        in found
    )


def test_an_unreachable_state_is_a_missing_transition_target() -> None:
    # recorded: 'State "C" is not reachable.' at /States/C.
    states = {"A": {"Type": "Succeed"}, "C": {"Type": "Succeed"}}
    assert diagnose({"StartAt": "A", "States": states})["diagnostics"] == [
        error("MISSING_TRANSITION_TARGET", 'State "C" is not reachable.', "/States/C")
    ]


def test_a_field_a_state_type_does_not_have_is_located_at_the_state() -> None:
    # recorded: "Field 'TimeoutSeconds' is not supported" at /States/M (and /States/P).
    states = {
        "P": {
            "Type": "Parallel",
            "TimeoutSeconds": 5,
            "Branches": [{"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}],
            "End": True,
        }
    }
    assert diagnose({"StartAt": "P", "States": states})["diagnostics"] == [
        error("SCHEMA_VALIDATION_FAILED", "Field 'TimeoutSeconds' is not supported", "/States/P")
    ]


def test_duplicate_names_and_terminal_states_in_nested_scopes() -> None:
    loop = {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "X"}}}
    states = {
        "P": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}, loop],
            "End": True,
        }
    }
    assert diagnose({"StartAt": "P", "States": states})["diagnostics"] == [
        error("DUPLICATE_STATE_NAME", "Duplicate State name: P", "/States/P/Branches[0]/States/P"),
        error("MISSING_END_STATE", "Workflow has no terminal state", "/States/P/Branches[1]"),
    ]


def test_richer_codes_become_aws_codes() -> None:
    states = {
        "A": {
            "Type": "Task",
            "Resource": "OpenCase",
            "InputPath": "nope",
            "Retry": [{"ErrorEquals": ["E"], "BackoffRate": 0.5}],
            "Next": "B",
        },
        "B": {"Type": "Succeed"},
        "x" * 81: {"Type": "Succeed"},
    }
    found = diagnose({"StartAt": "A", "States": states})["diagnostics"]
    assert {(d["code"], d.get("location")) for d in found} == {
        ("INVALID_RESOURCE", "/States/A/Resource"),
        ("SCHEMA_VALIDATION_FAILED", "/States/A/InputPath"),
        ("SCHEMA_VALIDATION_FAILED", "/States/A/Retry[0]/BackoffRate"),
        ("INVALID_STATE_NAME", "/States/" + "x" * 81),
        ("MISSING_TRANSITION_TARGET", "/States/" + "x" * 81),
    }


def test_a_jsonata_field_in_a_jsonpath_state_is_an_invalid_field() -> None:
    state = {"Type": "Pass", "Output": {"x": 1}, "End": True}
    assert diagnose({"StartAt": "A", "States": {"A": state}}) == {
        "result": "FAIL",
        "diagnostics": [
            error(
                "SCHEMA_VALIDATION_FAILED",
                "field 'Output' is not allowed in a JSONPath Pass state (it is JSONata's: set"
                ' "QueryLanguage": "JSONata")',
                "/States/A/Output",
            )
        ],
        "truncated": False,
    }


def test_a_service_integration_aws_lacks_is_an_invalid_resource() -> None:
    state = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.sync", "End": True}
    (diagnostic,) = diagnose({"StartAt": "A", "States": {"A": state}})["diagnostics"]
    assert (diagnostic["code"], diagnostic["location"]) == (
        "INVALID_RESOURCE",
        "/States/A/Resource",
    )
    assert "sqs:sendMessage" in diagnostic["message"]


def test_express_machines_refuse_callbacks_and_job_runs() -> None:
    # recorded: ILLEGAL_WFTT for an EXPRESS machine.
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "F"},
        "End": True,
    }
    definition = {"StartAt": "A", "States": {"A": state}}
    assert diagnose(definition)["result"] == "OK"
    assert diagnose(definition, machine_type="EXPRESS")["diagnostics"] == [
        error(
            "SCHEMA_VALIDATION_FAILED",
            "Express state machine does not support '.waitForTaskToken' service integration ",
            "/States/A/Resource",
        )
    ]


def many_problems(count: int) -> dict[str, Any]:
    states = {f"S{i}": {"Type": "Pass", "Nxt": 1, "End": True} for i in range(count)}
    states["S0"] = {"Type": "Pass", "Nxt": 1, "Next": "S1"}
    return {"StartAt": "S0", "States": states}


@pytest.mark.parametrize(("max_results", "shown"), [(0, 100), (5, 5), (100, 100), (500, 100)])
def test_max_results_truncates_as_on_aws(max_results: int, shown: int) -> None:
    answer = diagnose(many_problems(150), max_results=max_results)
    assert answer["result"] == "FAIL"
    assert len(answer["diagnostics"]) == shown
    assert answer["truncated"] is True
    assert diagnose(many_problems(3), max_results=max_results)["truncated"] is False
    assert MAX_RESULTS == 100


def test_the_loaders_cap_on_problems_reads_as_truncated() -> None:
    answer = diagnose(many_problems(1200))
    assert len(answer["diagnostics"]) == 100
    assert answer["truncated"] is True
    assert all(d["code"] != "TOO_MANY_PROBLEMS" for d in answer["diagnostics"])


def test_too_deep_and_too_large_definitions_are_diagnosed_not_raised() -> None:
    deep = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Result": '
    deep += "[" * 5000 + "]" * 5000 + "}}}"
    (found,) = diagnose(deep)["diagnostics"]
    assert found["code"] == "TOO_DEEPLY_NESTED"
    assert found["location"].startswith("/States/A/Result[0][0][0]")
    big = {"StartAt": "A", "States": {"A": {"Type": "Succeed", "Comment": "x" * 1_100_000}}}
    (found,) = diagnose(big)["diagnostics"]
    assert found["code"] == "SCHEMA_VALIDATION_FAILED"
    assert "1048576" in found["message"]
