"""Loading definitions: every problem at once, each located by line/column, pointer and state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.asl.errors import DefinitionError, Problem
from orchestrator.asl.loader import load_definition, load_definition_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(DefinitionError) as caught:
        load_definition_file(path)
    return caught.value.problems


def test_broken_json_is_reported_with_line_and_column() -> None:
    path = FIXTURES / "tutorial-trailing-comma.asl.json"
    (problem,) = problems_of(path)
    assert problem.code == "INVALID_JSON"
    lines = path.read_text().splitlines()
    # The trailing comma is at the end of the "Next": "Fail" line; JSON sees the error at the "}".
    comma_line = next(i for i, line in enumerate(lines, 1) if line.strip() == '"Next": "Fail",')
    assert problem.line == comma_line + 1
    assert problem.column == lines[comma_line].index("}") + 1
    with pytest.raises(DefinitionError) as caught:
        load_definition_file(path)
    assert f"{path}:{problem.line}:{problem.column}" in str(caught.value)


def test_every_problem_is_listed_with_pointer_line_and_state() -> None:
    path = FIXTURES / "many-problems.asl.json"
    problems = problems_of(path)
    found = {(p.code, p.pointer) for p in problems}
    expected = {
        ("MISSING_TRANSITION_TARGET", "/States/Open Case/Next"),
        ("UNKNOWN_FIELD", "/States/Assign Case/Nxt"),
        ("MISSING_TRANSITION", "/States/Assign Case"),
        ("MISSING_FIELD", "/States/Work on Case/Resource"),
        ("INVALID_JSONPATH", "/States/Work on Case/InputPath"),
        ("STATES_ALL_NOT_LAST", "/States/Work on Case/Catch/0/ErrorEquals"),
        ("INVALID_TYPE", "/States/Is Case Resolved/Choices/0/NumericEquals"),
        ("INVALID_STATE_TYPE", "/States/Close Case/Type"),
        ("UNREACHABLE_STATE", "/States/Assign Case"),
    }
    assert expected <= found, sorted(expected - found)
    text = path.read_text().splitlines()
    for problem in problems:
        assert problem.line is not None and problem.column is not None, problem
        assert problem.state is not None
        assert (
            problem.state in text[problem.line - 1]
            or problem.pointer.split("/")[-1] in text[problem.line - 1]
        ), problem
    unknown = next(p for p in problems if p.code == "UNKNOWN_FIELD")
    assert text[unknown.line - 1][unknown.column - 1 :].startswith('"Nxt"')  # type: ignore[operator]


def test_the_error_message_names_file_location_code_and_state() -> None:
    path = FIXTURES / "many-problems.asl.json"
    with pytest.raises(DefinitionError) as caught:
        load_definition_file(path)
    message = str(caught.value)
    assert f"{path}: {len(caught.value.problems)} problem(s)" in message
    assert (
        "MISSING_TRANSITION_TARGET at /States/Open Case/Next (state 'Open Case'): 'Next' names state 'Assign Cas'"
        in message
    )


@pytest.mark.parametrize(
    ("document", "code", "pointer"),
    [
        ([], "INVALID_TYPE", ""),
        ({"States": {"A": {"Type": "Succeed"}}}, "MISSING_FIELD", "/StartAt"),
        (
            {"StartAt": "B", "States": {"A": {"Type": "Succeed"}}},
            "MISSING_TRANSITION_TARGET",
            "/StartAt",
        ),
        ({"StartAt": "A", "States": {}}, "INVALID_TYPE", "/States"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Extra": 1},
            "UNKNOWN_FIELD",
            "/Extra",
        ),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A", "End": True}}},
            "MUTUALLY_EXCLUSIVE",
            "/States/A/End",
        ),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": True}},
            },
            "INVALID_REFERENCE_PATH",
            "/States/A/ResultPath",
        ),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "nope"}, "End": True}},
            },
            "INVALID_JSONPATH",
            "/States/A/Parameters/x.$",
        ),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Task", "Resource": "OpenCase", "End": True}},
            },
            "INVALID_RESOURCE",
            "/States/A/Resource",
        ),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}},
            "MUTUALLY_EXCLUSIVE",
            "/States/A/ErrorPath",
        ),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}},
            "UNKNOWN_FIELD",
            "/States/A/Next",
        ),
    ],
)
def test_single_problems(document: object, code: str, pointer: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition(json.dumps(document), name="M")
    assert (code, pointer) in {(p.code, p.pointer) for p in caught.value.problems}


@pytest.mark.parametrize(
    ("change", "code", "pointer"),
    [
        ({"ProcessorConfig": {"Mode": "DISTRIBUTED"}}, "MISSING_FIELD", "/ExecutionType"),
        ({"ProcessorConfig": {"Mode": "SIDEWAYS"}}, "INVALID_VALUE", "/Mode"),
        ({"Label": "has space"}, "INVALID_VALUE", "Label"),
        ({"Label": "x" * 41}, "INVALID_VALUE", "Label"),
        (
            {"ItemReader": {"Resource": "arn:aws:states:::s3:putObject"}},
            "INVALID_VALUE",
            "Resource",
        ),
        (
            {
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "XML"},
                }
            },
            "INVALID_VALUE",
            "InputType",
        ),
        (
            {
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"MaxItems": 100_000_001},
                }
            },
            "INVALID_VALUE",
            "MaxItems",
        ),
        ({"ItemBatcher": {}}, "MISSING_FIELD", "/ItemBatcher"),
        (
            {"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject"}},
            "MISSING_FIELD",
            "/ResultWriter",
        ),
        (
            {"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {}}},
            "INVALID_VALUE",
            "/ResultWriter/Resource",
        ),
        (
            {
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {},
                    "WriterConfig": {"OutputType": "CSV"},
                }
            },
            "INVALID_VALUE",
            "/OutputType",
        ),
        ({"ItemBatcher": {"MaxItemsPerBatch": 0}}, "INVALID_VALUE", "MaxItemsPerBatch"),
    ],
)
def test_distributed_map_fields_are_checked_where_they_are(
    change: dict[str, object], code: str, pointer: str
) -> None:
    processor: dict[str, object] = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "End": True}},
    }
    state: dict[str, object] = {"Type": "Map", "End": True}
    if "ProcessorConfig" in change:
        processor["ProcessorConfig"] = change["ProcessorConfig"]
    else:
        state.update(change)
    state["ItemProcessor"] = processor
    with pytest.raises(DefinitionError) as caught:
        load_definition(json.dumps({"StartAt": "A", "States": {"A": state}}), name="M")
    assert any(p.code == code and p.pointer.endswith(pointer) for p in caught.value.problems), [
        (p.code, p.pointer) for p in caught.value.problems
    ]


def test_an_inline_map_refuses_distributed_fields() -> None:
    state = {
        "Type": "Map",
        "Label": "L",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True,
    }
    with pytest.raises(DefinitionError) as caught:
        load_definition(json.dumps({"StartAt": "A", "States": {"A": state}}), name="M")
    assert ("INVALID_FIELD", "/States/A/Label") in {
        (p.code, p.pointer) for p in caught.value.problems
    }


def test_lambda_arn_gives_the_function_name() -> None:
    machine = load_definition(
        json.dumps(
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:eu-west-1:000000000000:function:My-Fn_1:live",
                        "End": True,
                    }
                },
            }
        ),
        name="M",
    )
    assert machine.states["A"].function_name == "My-Fn_1"  # type: ignore[union-attr]
