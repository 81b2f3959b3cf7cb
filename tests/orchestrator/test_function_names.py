"""The functions whose queues the service declares up front: every Task's, in every scope,
lambda:invoke's FunctionName included when it is written out; never an empty name."""

from __future__ import annotations

import json

from orchestrator.asl.loader import load_definition
from orchestrator.service.loop import function_names

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def test_every_scope_and_static_invoke_names_are_found() -> None:
    inner = {
        "StartAt": "I",
        "States": {
            "I": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": LAMBDA + "Inner:live", "Payload.$": "$"},
                "End": True,
            }
        },
    }
    dynamic = {
        "StartAt": "D",
        "States": {
            "D": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName.$": "$.name"},
                "End": True,
            }
        },
    }
    document = {
        "StartAt": "Top",
        "States": {
            "Top": {"Type": "Task", "Resource": LAMBDA + "Top", "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [inner, dynamic], "Next": "M"},
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "E",
                    "States": {"E": {"Type": "Task", "Resource": LAMBDA + "Each", "End": True}},
                },
                "End": True,
            },
        },
    }
    machine = load_definition(json.dumps(document), name="Nested")
    assert function_names({"Nested": machine}) == {"Top", "Inner", "Each"}
