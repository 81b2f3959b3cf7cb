"""The warning for a variable read before any state can have assigned it."""

from __future__ import annotations

from typing import Any

from orchestrator.asl.diagnostics import aws_diagnostics
from orchestrator.asl.variable_check import unassigned_reads


def warned(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (problem.pointer, problem.message.split(" reads ")[1].split(",")[0])
        for problem in unassigned_reads(document)
    }


def test_jsonpath_reads_in_templates_paths_intrinsics_and_choices() -> None:
    document = {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"known.$": "$.a"}, "Next": "Use"},
            "Use": {
                "Type": "Pass",
                "Parameters": {
                    "a.$": "$known",
                    "b.$": "States.Format('{} $notvar', $missing)",
                    "c.$": "$$.Execution.Id",
                    "d.$": "$.plain",
                },
                "OutputPath": "$absent.x",
                "Next": "Pick",
            },
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$chosen", "IsPresent": True, "Next": "End"}],
                "Default": "End",
            },
            "End": {"Type": "Succeed"},
        },
    }
    assert warned(document) == {
        ("/States/Use/Parameters/b.$", "$missing"),
        ("/States/Use/OutputPath", "$absent"),
        ("/States/Pick/Choices/0/Variable", "$chosen"),
    }


def test_a_variable_assigned_on_some_path_or_in_a_loop_is_not_warned() -> None:
    document = {
        "QueryLanguage": "JSONata",
        "StartAt": "Loop",
        "States": {
            "Loop": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.n > 3 %}", "Next": "Done"}],
                "Default": "Count",
            },
            "Count": {
                "Type": "Pass",
                "Assign": {"seen": "{% $states.input.n %}"},
                "Output": {"n": "{% $states.input.n + 1 %}"},
                "Next": "Loop",
            },
            "Done": {"Type": "Pass", "Output": "{% ($local := 1; $seen + $local) %}", "End": True},
        },
    }
    assert warned(document) == set()


def test_branches_see_outer_variables_and_keep_their_own() -> None:
    document = {
        "QueryLanguage": "JSONata",
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "Fan"},
            "Fan": {
                "Type": "Map",
                "Items": "{% [$outer] %}",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Pass",
                            "Assign": {"inner": "{% $outer %}"},
                            "Output": "{% $outer %}",
                            "End": True,
                        }
                    },
                },
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "Assign": {"failed": True}, "Next": "Failed"}
                ],
                "Next": "After",
            },
            "After": {"Type": "Pass", "Output": "{% $inner %}", "End": True},
            "Failed": {"Type": "Pass", "Output": "{% $failed %}", "End": True},
        },
    }
    assert warned(document) == {("/States/After/Output", "$inner")}


def test_validate_state_machine_definition_answers_a_warning_and_ok() -> None:
    document = (
        '{"StartAt": "A", "States": {"A": {"Type": "Pass",'
        ' "Parameters": {"x.$": "$nothing"}, "End": true}}}'
    )
    answer = aws_diagnostics(document)
    assert answer["result"] == "OK"
    (diagnostic,) = answer["diagnostics"]
    assert diagnostic["severity"] == "WARNING"
    assert diagnostic["code"] == "UNASSIGNED_VARIABLE"
    assert diagnostic["location"] == "/States/A/Parameters/x.$"
