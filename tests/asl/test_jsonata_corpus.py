"""The JSONata fields of the AWS-recorded corpus, evaluated alone: results and cause texts.

Two kinds of recorded runs are one evaluation against the execution input, so they check the
evaluator without the interpreter: a first state that is a JSONata Pass with an ``Output``
and ``End`` (the output is the rendered template), and a first Map state whose ``Items`` is an
expression and whose iteration is a bare Pass (the output is the items). A failed run's cause
is AWS's state sentence followed by ours.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.asl.jsonata import (
    JsonataError,
    compile_expression,
    compile_template,
    unexpected_type,
)
from tests.conformance.corpus import load_cases


def _first_state(case: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    definition = json.loads(case["definition"])
    state = definition["States"][definition["StartAt"]]
    jsonata = state.get("QueryLanguage", definition.get("QueryLanguage")) == "JSONata"
    return state, jsonata


def _pass_output_cases() -> list[dict[str, Any]]:
    chosen = []
    for case in load_cases():
        state, jsonata = _first_state(case)
        if not (jsonata and state["Type"] == "Pass" and "Output" in state and state.get("End")):
            continue
        if "Assign" in state or "$states.context" in json.dumps(state["Output"]):
            continue  # the variables and the context object are the interpreter's
        chosen.append(case)
    return chosen


def _bare_items_cases() -> list[dict[str, Any]]:
    chosen = []
    for case in load_cases():
        state, jsonata = _first_state(case)
        if not (jsonata and state["Type"] == "Map" and isinstance(state.get("Items"), str)):
            continue
        inner = state["ItemProcessor"]["States"]
        if len(inner) == 1 and next(iter(inner.values())) == {"Type": "Pass", "End": True}:
            chosen.append(case)
    return chosen


def _check_failure(case: dict[str, Any], error: JsonataError) -> None:
    expected = case["expected"]
    assert expected["status"] == "FAILED", (case["source"], error.cause)
    assert expected["error"] == error.error
    assert expected["cause"].endswith(f"). {error.cause}"), (expected["cause"], error.cause)


def test_first_pass_outputs_render_as_aws_recorded() -> None:
    cases = _pass_output_cases()
    assert len(cases) >= 45, "the corpus holds 49 such runs"
    for case in cases:
        output = json.loads(case["definition"])
        state = output["States"][output["StartAt"]]
        bindings = {"states": {"input": json.loads(case["input"])}}
        try:
            result = compile_template(state["Output"]).render(bindings, field="Output")
        except JsonataError as error:
            _check_failure(case, error)
            continue
        assert case["expected"]["status"] == "SUCCEEDED", case["source"]
        assert result == case["expected"]["output"], case["source"]


def test_map_items_evaluate_as_aws_recorded() -> None:
    cases = _bare_items_cases()
    assert len(cases) >= 9, "the corpus holds 10 such runs"
    for case in cases:
        definition = json.loads(case["definition"])
        field = definition["States"][definition["StartAt"]]["Items"]
        expression = compile_expression(field)
        try:
            items = expression.evaluate(
                {"states": {"input": json.loads(case["input"])}}, location="Items"
            )
            if not isinstance(items, list):
                raise unexpected_type(expression.text, "Items", "array", items)
        except JsonataError as error:
            _check_failure(case, error)
            continue
        assert case["expected"]["status"] == "SUCCEEDED", case["source"]
        assert items == case["expected"]["output"], case["source"]


@pytest.mark.parametrize("tag", ["jsonata"])
def test_every_recorded_jsonata_expression_compiles(tag: str) -> None:
    found = 0
    for case in load_cases():
        if tag not in case["tags"]:
            continue
        for value in _strings(json.loads(case["definition"])):
            if value.startswith("{%") and value.endswith("%}"):
                compile_expression(value)
                found += 1
    assert found >= 200, found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [found for item in value.values() for found in _strings(item)]
    if isinstance(value, list):
        return [found for item in value for found in _strings(item)]
    return []
