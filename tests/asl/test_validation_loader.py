"""Definition validation as AWS validates: what it accepts, what it refuses, and where.

Issue 14, "Validation that disagrees with AWS", and the definition parts of the fault probe:
QueryLanguage, activity and integration ARNs, terminal states, unique state names, AWS's
number ranges, size and nesting limits, and invalid JSON located near the mistake.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from messages.limits import MAX_DEFINITION_BYTES, MAX_JSON_DEPTH
from orchestrator.asl.definition import StateMachine, TaskState
from orchestrator.asl.errors import DefinitionError, Problem
from orchestrator.asl.loader import MAX_PROBLEMS, load_definition, load_definition_file
from orchestrator.local_runner import FakeClock, run_local
from workers.runtime import Function

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:F"


def load(document: Any) -> StateMachine:
    return load_definition(json.dumps(document), name="M")


def problems(document: Any) -> list[Problem]:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(DefinitionError) as caught:
        load_definition(text, name="M")
    return caught.value.problems


def codes(document: Any) -> set[tuple[str, str]]:
    return {(p.code, p.pointer) for p in problems(document)}


def one(state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": state}}


# -- QueryLanguage ---------------------------------------------------------------------------


def test_query_language_jsonpath_on_a_state_restates_the_default() -> None:
    machine = load(one({"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}))
    assert machine.states["A"].type == "Pass"
    load({"QueryLanguage": "JSONPath", **one({"Type": "Pass", "End": True})})


def test_query_language_jsonata_states_load_and_jsonpath_fields_are_refused() -> None:
    assert load(one({"Type": "Pass", "QueryLanguage": "JSONata", "End": True})).name == "M"
    task = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True}
    assert load({"QueryLanguage": "JSONata", **one(task)}).name == "M"
    assert codes(
        {"QueryLanguage": "JSONata", **one({**task, "Parameters": {"QueueUrl": "q"}})}
    ) == {("INVALID_FIELD", "/States/A/Parameters")}
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "B"}]
    assert codes(
        {
            "QueryLanguage": "JSONata",
            "StartAt": "A",
            "States": {
                "A": {**task, "End": None, "Next": "B", "Catch": catch},
                "B": {"Type": "Succeed"},
            },
        }
    ) >= {("INVALID_FIELD", "/States/A/Catch/0/ResultPath")}
    assert codes(
        {"QueryLanguage": "JSONata", **one({**task, "TimeoutSeconds": "{% $states.input. %}"})}
    ) == {("INVALID_JSONATA", "/States/A/TimeoutSeconds")}
    assert codes(
        {
            "QueryLanguage": "JSONata",
            **one(
                {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Arguments": {"Payload": 1},
                    "End": True,
                }
            ),
        }
    ) == {("MISSING_FIELD", "/States/A/Arguments")}
    assert codes(
        {
            "QueryLanguage": "JSONata",
            **one({"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}),
        }
    ) == {("INVALID_VALUE", "/States/A/QueryLanguage")}
    assert codes(
        one({"Type": "Pass", "QueryLanguage": "JSONata", "InputPath": "$.a", "End": True})
    ) == {("INVALID_FIELD", "/States/A/InputPath")}
    assert codes(
        one(
            {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": "{% $states.input. %}",
                "End": True,
            }
        )
    ) == {("INVALID_JSONATA", "/States/A/Output")}
    assert codes(one({"Type": "Pass", "QueryLanguage": "XPath", "End": True})) == {
        ("INVALID_VALUE", "/States/A/QueryLanguage")
    }


# -- Task resources --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            "arn:aws:states:us-east-1:123456789012:activity:Approve",
            ("activity", "", "", "", ""),
        ),
        (
            "arn:aws:states:us-east-1:123456789012:sqs:sendMessage",
            ("service", "sqs", "sendMessage", "", "us-east-1"),
        ),
        ("arn:aws:states:::sns:publish", ("service", "sns", "publish", "", "")),
        (
            "arn:aws:states:eu-west-1:123456789012:states:startExecution.sync:2",
            ("service", "states", "startExecution", ".sync:2", "eu-west-1"),
        ),
        (
            "arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken",
            ("service", "aws-sdk:s3", "listBuckets", ".waitForTaskToken", ""),
        ),
        ("arn:aws-cn:states:::sqs:sendMessage", ("service", "sqs", "sendMessage", "", "")),
        ("arn:aws:states:::ecs:runTask.sync", ("service", "ecs", "runTask", ".sync", "")),
    ],
)
def test_activities_and_integrations_load_with_their_parts(
    resource: str, expected: tuple[str, ...]
) -> None:
    machine = load_definition(
        json.dumps(
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": resource, "End": True}}}
        ),
        name="M",
    )
    task = machine.states["A"]
    assert isinstance(task, TaskState)
    assert (task.integration, task.service, task.action, task.pattern, task.region) == expected


@pytest.mark.parametrize(
    ("resource", "named"),
    [
        ("arn:aws:states:::sqs:sendMessage.sync", "sqs:sendMessage"),
        ("arn:aws:states:::dynamodb:scanTable", "dynamodb"),
        ("arn:aws:states:::nosuchservice:doIt", "nosuchservice"),
        ("arn:aws:states:::aws-sdk:s3:noSuchAction", "noSuchAction"),
        ("arn:aws:states:::aws-sdk:s3:getObject.sync", ".sync"),
    ],
)
def test_a_service_action_or_pattern_aws_lacks_is_refused(resource: str, named: str) -> None:
    (problem,) = problems(one({"Type": "Task", "Resource": resource, "End": True}))
    assert (problem.code, problem.pointer) == ("INVALID_RESOURCE", "/States/A/Resource")
    assert named in problem.message


def test_lambda_invoke_written_with_a_region_calls_that_region() -> None:
    machine = load_definition(
        json.dumps(
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:eu-west-1:123456789012:lambda:invoke",
                        "Parameters": {"FunctionName": "F"},
                        "End": True,
                    }
                },
            }
        ),
        name="M",
    )
    task = machine.states["A"]
    assert isinstance(task, TaskState)
    assert (task.integration, task.function_name, task.region) == ("invoke", "F", "eu-west-1")


@pytest.mark.parametrize(
    "resource",
    [
        "OpenCase",
        "arn:aws:states:::",
        "arn:aws:states:us-east-1:123456789012:stateMachine:Other",
        "arn:aws:states:us-east-1:123:activity:ShortAccount",
        "arn:aws:states:::activity:NoRegion",
        "arn:aws:states:us-east-1:123456789012:activity:",
        "arn:aws:lambda:us-east-1:123456789012:layer:L",
        "arn:aws:states:::sqs",
    ],
)
def test_a_malformed_resource_stays_invalid(resource: str) -> None:
    (problem,) = problems(one({"Type": "Task", "Resource": resource, "End": True}))
    assert (problem.code, problem.pointer) == ("INVALID_RESOURCE", "/States/A/Resource")


def test_lambda_resources_still_run() -> None:
    machine = load(one({"Type": "Task", "Resource": LAMBDA + ":live", "End": True}))
    task = machine.states["A"]
    assert isinstance(task, TaskState) and task.function_name == "F"
    invoke = load(
        one(
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "F", "Payload": {"t.$": "$$.Task.Token"}},
                "End": True,
            }
        )
    ).states["A"]
    assert isinstance(invoke, TaskState)
    assert (invoke.integration, invoke.wait_for_token) == ("invoke", True)


# -- terminal states -------------------------------------------------------------------------

LOOP = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}


def test_a_machine_whose_states_only_loop_has_no_end_state() -> None:
    assert codes({"StartAt": "A", "States": LOOP}) == {("MISSING_END_STATE", "/States")}


def test_a_choice_alone_does_not_end_a_workflow() -> None:
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "A"}],
        "Default": "A",
    }
    assert ("MISSING_END_STATE", "/States") in codes({"StartAt": "A", "States": {"A": choice}})


def test_no_end_state_hides_the_unreachable_states_as_on_aws() -> None:
    states = {**LOOP, "C": {"Type": "Pass", "Next": "A"}}
    assert codes({"StartAt": "A", "States": states}) == {("MISSING_END_STATE", "/States")}


def test_an_unreachable_end_state_is_reported_as_unreachable() -> None:
    states = {**LOOP, "C": {"Type": "Succeed"}}
    assert codes({"StartAt": "A", "States": states}) == {("UNREACHABLE_STATE", "/States/C")}


def test_a_missing_target_and_no_end_state_are_both_reported() -> None:
    assert codes(one({"Type": "Pass", "Next": "NOPE"})) == {
        ("MISSING_TRANSITION_TARGET", "/States/A/Next"),
        ("MISSING_END_STATE", "/States"),
    }


@pytest.mark.parametrize("ending", [{"Type": "Succeed"}, {"Type": "Fail"}, {"End": True}])
def test_succeed_fail_and_end_each_end_a_workflow(ending: dict[str, Any]) -> None:
    state = {"Type": "Pass", **ending} if "End" in ending else ending
    states = {"A": {"Type": "Pass", "Next": "Z"}, "Z": state}
    load({"StartAt": "A", "States": states})


def test_a_branch_and_an_iterator_need_an_end_state_too() -> None:
    loop_scope = {"StartAt": "A", "States": LOOP}
    parallel = {"Type": "Parallel", "Branches": [loop_scope], "End": True}
    assert codes({"StartAt": "P", "States": {"P": parallel}}) == {
        ("MISSING_END_STATE", "/States/P/Branches/0/States")
    }
    mapped = {"Type": "Map", "ItemProcessor": loop_scope, "End": True}
    assert codes({"StartAt": "M", "States": {"M": mapped}}) == {
        ("MISSING_END_STATE", "/States/M/ItemProcessor/States")
    }


# -- unique state names ----------------------------------------------------------------------


def branch(*names: str) -> dict[str, Any]:
    states: dict[str, Any] = {n: {"Type": "Pass", "Next": m} for n, m in itertools.pairwise(names)}
    states[names[-1]] = {"Type": "Succeed"}
    return {"StartAt": names[0], "States": states}


def test_a_state_name_used_in_two_branches_is_a_duplicate() -> None:
    parallel = {"Type": "Parallel", "Branches": [branch("W"), branch("X", "W")], "End": True}
    (problem,) = problems({"StartAt": "P", "States": {"P": parallel}})
    assert (problem.code, problem.pointer) == (
        "DUPLICATE_STATE_NAME",
        "/States/P/Branches/1/States/W",
    )
    assert "/States/P/Branches/0/States/W" in problem.message


def test_a_state_name_of_a_map_processor_and_the_top_level_is_a_duplicate() -> None:
    mapped = {"Type": "Map", "Iterator": branch("Final"), "Next": "Final"}
    found = codes({"StartAt": "M", "States": {"M": mapped, "Final": {"Type": "Succeed"}}})
    assert found == {("DUPLICATE_STATE_NAME", "/States/Final")}


def test_a_duplicate_deep_inside_nested_scopes_is_found() -> None:
    inner = {"Type": "Map", "ItemProcessor": branch("P"), "End": True}
    parallel = {"Type": "Parallel", "Branches": [{"StartAt": "I", "States": {"I": inner}}]}
    found = codes({"StartAt": "P", "States": {"P": {**parallel, "End": True}}})
    assert found == {
        ("DUPLICATE_STATE_NAME", "/States/P/Branches/0/States/I/ItemProcessor/States/P")
    }


def test_a_state_name_given_twice_in_one_object_is_a_duplicate() -> None:
    text = """{
      "StartAt": "A",
      "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Succeed"}
      }
    }"""
    (problem,) = problems(text)
    assert (problem.code, problem.pointer) == ("DUPLICATE_STATE_NAME", "/States/A")
    assert problem.line == 5  # the second one


def test_distinct_names_across_scopes_are_fine() -> None:
    parallel = {"Type": "Parallel", "Branches": [branch("X1", "X2"), branch("Y1")], "End": True}
    load({"StartAt": "P", "States": {"P": parallel}})


# -- numbers ---------------------------------------------------------------------------------


def task(**fields: Any) -> dict[str, Any]:
    return one({"Type": "Task", "Resource": LAMBDA, "End": True, **fields})


def retry(**fields: Any) -> dict[str, Any]:
    return task(Retry=[{"ErrorEquals": ["States.ALL"], **fields}])


def mapped(**fields: Any) -> dict[str, Any]:
    return one({"Type": "Map", "ItemProcessor": branch("I"), "End": True, **fields})


RETRIER = "/States/A/Retry/0"


@pytest.mark.parametrize(
    ("document", "code", "pointer"),
    [
        (retry(IntervalSeconds=0), "INVALID_VALUE", f"{RETRIER}/IntervalSeconds"),
        (retry(IntervalSeconds=100_000_000), "INVALID_VALUE", f"{RETRIER}/IntervalSeconds"),
        (retry(IntervalSeconds=1.5), "INVALID_TYPE", f"{RETRIER}/IntervalSeconds"),
        (retry(IntervalSeconds="1"), "INVALID_TYPE", f"{RETRIER}/IntervalSeconds"),
        (retry(IntervalSeconds=True), "INVALID_TYPE", f"{RETRIER}/IntervalSeconds"),
        (retry(MaxAttempts=-1), "INVALID_VALUE", f"{RETRIER}/MaxAttempts"),
        (retry(MaxAttempts=100_000_000), "INVALID_VALUE", f"{RETRIER}/MaxAttempts"),
        (retry(BackoffRate=0.5), "INVALID_VALUE", f"{RETRIER}/BackoffRate"),
        (retry(BackoffRate="2"), "INVALID_TYPE", f"{RETRIER}/BackoffRate"),
        (retry(BackoffRate=True), "INVALID_TYPE", f"{RETRIER}/BackoffRate"),
        (retry(MaxDelaySeconds=0), "INVALID_VALUE", f"{RETRIER}/MaxDelaySeconds"),
        (retry(MaxDelaySeconds=31_622_402), "INVALID_VALUE", f"{RETRIER}/MaxDelaySeconds"),
        (task(TimeoutSeconds=0), "INVALID_VALUE", "/States/A/TimeoutSeconds"),
        (task(TimeoutSeconds=100_000_000), "INVALID_VALUE", "/States/A/TimeoutSeconds"),
        (task(HeartbeatSeconds=0), "INVALID_VALUE", "/States/A/HeartbeatSeconds"),
        (
            task(TimeoutSeconds=10, HeartbeatSeconds=10),
            "INVALID_VALUE",
            "/States/A/HeartbeatSeconds",
        ),
        (
            {"TimeoutSeconds": 0, **one({"Type": "Succeed"})},
            "INVALID_VALUE",
            "/TimeoutSeconds",
        ),
        (
            {"TimeoutSeconds": 100_000_000, **one({"Type": "Succeed"})},
            "INVALID_VALUE",
            "/TimeoutSeconds",
        ),
        (one({"Type": "Wait", "Seconds": -1, "End": True}), "INVALID_VALUE", "/States/A/Seconds"),
        (
            one({"Type": "Wait", "Seconds": 100_000_000, "End": True}),
            "INVALID_VALUE",
            "/States/A/Seconds",
        ),
        (mapped(MaxConcurrency=-1), "INVALID_VALUE", "/States/A/MaxConcurrency"),
        (mapped(MaxConcurrency=1.5), "INVALID_TYPE", "/States/A/MaxConcurrency"),
        (mapped(ToleratedFailureCount=-1), "INVALID_VALUE", "/States/A/ToleratedFailureCount"),
        (
            mapped(ToleratedFailurePercentage=101),
            "INVALID_VALUE",
            "/States/A/ToleratedFailurePercentage",
        ),
        (
            mapped(ToleratedFailurePercentage="5"),
            "INVALID_TYPE",
            "/States/A/ToleratedFailurePercentage",
        ),
    ],
)
def test_numbers_outside_aws_ranges_are_refused(document: Any, code: str, pointer: str) -> None:
    assert (code, pointer) in codes(document)


def test_numbers_at_the_edges_of_aws_ranges_are_accepted() -> None:
    load(retry(IntervalSeconds=99_999_999, MaxAttempts=0, BackoffRate=1, MaxDelaySeconds=1))
    load(retry(IntervalSeconds=1, MaxAttempts=99_999_999, MaxDelaySeconds=31_622_401))
    load(task(TimeoutSeconds=99_999_999, HeartbeatSeconds=99_999_998))
    load({"TimeoutSeconds": 99_999_999, **one({"Type": "Wait", "Seconds": 0, "End": True})})
    load(mapped(MaxConcurrency=0, ToleratedFailureCount=0, ToleratedFailurePercentage=100))
    load(mapped(ToleratedFailurePercentage=12.5))


def test_a_huge_finite_backoff_rate_is_accepted_as_aws_accepts_it() -> None:
    task_state = load(retry(BackoffRate=1e300)).states["A"]
    assert isinstance(task_state, TaskState)
    assert task_state.retriers[0].backoff_rate == 1e300


def test_a_huge_backoff_rate_overflows_nothing_when_retries_run() -> None:
    # The probe: BackoffRate 1e300 passed validation and its delay overflowed a float later.
    calls = []

    def flaky(event: Any, context: Any) -> Any:
        calls.append(1)
        if len(calls) < 4:
            raise RuntimeError("again")
        return {"ok": True}

    machine = load(retry(BackoffRate=1e300, MaxAttempts=5, MaxDelaySeconds=60))
    clock = FakeClock()
    result = run_local(machine, {}, {"F": Function("F", flaky)}, clock=clock)
    assert result.state.status == "SUCCEEDED", (result.state.error, result.state.cause)
    assert len(calls) == 4


def test_every_number_problem_is_listed_at_once() -> None:
    document = task(
        TimeoutSeconds=0,
        HeartbeatSeconds=-5,
        Retry=[
            {
                "ErrorEquals": ["E"],
                "IntervalSeconds": 0,
                "MaxAttempts": -1,
                "BackoffRate": 0.1,
                "MaxDelaySeconds": 0,
            }
        ],
    )
    fields = {p.pointer.rsplit("/", 1)[-1] for p in problems(document)}
    assert fields == {
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
    }


@pytest.mark.parametrize(
    ("literal", "shown"),
    [("1e400", "1e400"), ("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity")],
)
def test_numbers_json_has_no_value_for_are_invalid_json_where_they_are(
    literal: str, shown: str
) -> None:
    text = (
        f'{{"StartAt": "A", "States": {{"A": {{"Type": "Task", "Resource": "{LAMBDA}",\n'
        f'  "Retry": [{{"ErrorEquals": ["E"], "BackoffRate": {literal}}}], "End": true}}}}}}'
    )
    (problem,) = problems(text)
    assert problem.code == "INVALID_JSON"
    assert (problem.line, problem.column) == (2, text.splitlines()[1].index(literal) + 1)
    assert shown in problem.message


def test_an_integer_of_thousands_of_digits_is_refused_as_invalid_json() -> None:
    text = json.dumps(one({"Type": "Wait", "Seconds": 1, "End": True})).replace(
        '"Seconds": 1', '"Seconds": ' + "9" * 5000
    )
    (problem,) = problems(text)
    assert problem.code == "INVALID_JSON"
    assert len(problem.message) < 400


# -- size and nesting ------------------------------------------------------------------------


def test_a_definition_over_one_mebibyte_is_refused_before_it_is_parsed() -> None:
    document = one({"Type": "Pass", "End": True, "Comment": ""})
    base = len(json.dumps(document))
    at_limit = one({"Type": "Pass", "End": True, "Comment": "x" * (MAX_DEFINITION_BYTES - base)})
    load(at_limit)
    over = one({"Type": "Pass", "End": True, "Comment": "x" * (MAX_DEFINITION_BYTES - base + 1)})
    (problem,) = problems(over)
    assert problem.code == "DEFINITION_TOO_LARGE"
    assert str(MAX_DEFINITION_BYTES) in problem.message


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    document = one({"Type": "Pass", "End": True, "Comment": ""})
    characters = MAX_DEFINITION_BYTES - len(json.dumps(document))
    text = json.dumps(
        one({"Type": "Pass", "End": True, "Comment": "é" * characters}), ensure_ascii=False
    )
    assert len(text) == MAX_DEFINITION_BYTES
    (problem,) = problems(text)
    assert problem.code == "DEFINITION_TOO_LARGE"


def test_a_file_over_the_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    file = tmp_path / "Huge.asl.json"
    with file.open("wb") as out:
        out.truncate(50 * MAX_DEFINITION_BYTES)  # sparse: reading it would take 50 MiB
    with pytest.raises(DefinitionError) as caught:
        load_definition_file(file)
    assert [p.code for p in caught.value.problems] == ["DEFINITION_TOO_LARGE"]
    assert str(file) in str(caught.value)


def nested_parameters(depth: int) -> str:
    body = '{"a": ' * depth + "1" + "}" * depth
    return (
        '{"StartAt": "A",\n "States": {"A": {"Type": "Pass", "End": true,\n'
        f'  "Parameters": {body}}}}}}}'
    )


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 250, 5_000, 100_000])
def test_a_definition_nested_too_deep_is_one_located_problem(depth: int) -> None:
    text = nested_parameters(depth)
    started = time.perf_counter()
    (problem,) = problems(text)
    assert time.perf_counter() - started < 2
    assert problem.code == "TOO_DEEPLY_NESTED"
    # The definition's own three levels come first: the Parameters object opens level 4.
    level = MAX_JSON_DEPTH + 1
    line3 = text.splitlines()[2]
    assert (problem.line, problem.column) == (3, line3.index("{") + 1 + (level - 4) * len('{"a": '))
    assert problem.pointer.startswith("/States/A/Parameters/a/a")
    assert len(problem.pointer) <= 120


def test_nesting_within_the_limit_loads() -> None:
    load_definition(nested_parameters(MAX_JSON_DEPTH - 4), name="M")


def test_deeply_nested_parallel_scopes_are_refused_not_crashed() -> None:
    text = (
        "".join(
            f'{{"StartAt": "P{n}", "States": {{"P{n}": {{"Type": "Parallel", "End": true,'
            ' "Branches": ['
            for n in range(200)
        )
        + json.dumps(branch("L"))
        + "]}}}" * 200
    )
    (problem,) = problems(text)
    assert problem.code == "TOO_DEEPLY_NESTED"
    assert problem.pointer.startswith("/States/P0/Branches/0/States/P1/Branches/0")


def test_deeply_nested_choice_rules_are_refused_not_crashed() -> None:
    rule = '{"Variable": "$.x", "IsPresent": true}'
    text = (
        '{"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "D", "Choices": ['
        + '{"Not": ' * 400
        + rule
        + "}" * 399
        + ', "Next": "D"}]}, "D": {"Type": "Succeed"}}}'
    )
    (problem,) = problems(text)
    assert problem.code == "TOO_DEEPLY_NESTED"
    assert problem.pointer.startswith("/States/C/Choices/0/Not/Not")


def chain(count: int, comment: int, extra: dict[str, Any] | None = None) -> str:
    states: dict[str, Any] = {}
    for i in range(count):
        states[f"State {i}"] = {
            "Type": "Pass",
            "Comment": "c" * comment,
            "Parameters": {"a.$": "$.b", "f.$": f"$.items[?(@.x == {i})]", "c": "d"},
            "Next": f"State {i + 1}",
            **(extra or {}),
        }
    last = states[f"State {count - 1}"]
    del last["Next"]
    last["End"] = True
    return json.dumps({"StartAt": "State 0", "States": states}, indent=1)


def test_a_one_mebibyte_definition_of_5000_states_loads_within_a_bound() -> None:
    text = chain(5000, 30)
    assert 0.9 * MAX_DEFINITION_BYTES < len(text.encode()) <= MAX_DEFINITION_BYTES
    started = time.perf_counter()
    machine = load_definition(text, name="M")
    assert time.perf_counter() - started < 10
    assert len(machine.states) == 5000


def test_a_one_mebibyte_definition_of_problems_is_refused_within_a_bound() -> None:
    text = chain(4500, 30, {"Nxt": 1})
    assert 0.9 * MAX_DEFINITION_BYTES < len(text.encode()) <= MAX_DEFINITION_BYTES
    started = time.perf_counter()
    found = problems(text)
    assert time.perf_counter() - started < 10
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1].code == "TOO_MANY_PROBLEMS"
    assert f"{4500 - MAX_PROBLEMS} more" in found[-1].message
    assert all(p.line is not None for p in found[:-1])


def test_locating_a_problem_under_long_keys_among_many_values_stays_linear() -> None:
    # 40,000 fields under ten keys of 20,000 characters: a pointer built for every value
    # would copy gigabytes; only the members of values on the problem's way are looked at.
    bottom = {f"k{i}.$": ("$.a" if i else "nope") for i in range(40_000)}
    node: dict[str, Any] = bottom
    for level in range(10):
        node = {f"K{level}" * 10_000: node, "x": [1]}
    text = json.dumps(one({"Type": "Pass", "Parameters": node, "End": True}))
    assert len(text.encode()) <= MAX_DEFINITION_BYTES
    started = time.perf_counter()
    (problem,) = problems(text)
    assert time.perf_counter() - started < 5
    assert problem.code == "INVALID_JSONPATH"
    assert problem.column == text.index('"nope"') + 1


def test_messages_quote_long_names_and_values_briefly() -> None:
    long = "n" * 60_000
    document = {
        long: 1,
        "StartAt": long,
        "States": {
            "A": {"Type": "Pass", long: 1, "Next": long, "End": True},
            "B": {"Type": "Wait", "Timestamp": long, "End": True},
            "C": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:" + long,
                "Catch": [{"ErrorEquals": ["E"], "Next": "A", long: 1}],
                "End": True,
            },
            "D": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "TimestampEquals": long, "Next": "A", long: 1}],
            },
            "E": {
                "Type": "Pass",
                "Parameters": {
                    "a.$": "States." + long + "(1)",
                    "b.$": "States.Array(1" + "9" * 100_000 + "x)",
                },
                "End": True,
            },
        },
    }
    found = problems(document)
    assert len(found) >= 10
    assert all(len(p.message) <= 600 for p in found), [len(p.message) for p in found]


# -- invalid JSON ----------------------------------------------------------------------------

MISSING_BRACE = """{
  "Comment": "The first state's closing brace is missing",
  "StartAt": "Open Case",
  "States": {
    "Open Case": {
      "Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:OpenCaseFunction",
      "Next": "Assign Case"
    ,
    "Assign Case": {
      "Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:AssignCaseFunction",
      "End": true
    }
  }
}
"""


def test_a_missing_brace_is_placed_where_the_indentation_says_it_was_forgotten() -> None:
    (problem,) = problems(MISSING_BRACE)
    assert problem.code == "INVALID_JSON"
    assert (problem.line, problem.column) == (9, 5)  # the lone "," where "}," was meant
    assert "'}' is probably missing before line 9, column 5" in problem.message
    assert "the '{' opened at line 5, column 18" in problem.message
    # The parser's own words and position stay in the message.
    assert "Expecting ',' delimiter at line 17" in problem.message


MISSING_BRACKET = """{
  "StartAt": "Choose",
  "States": {
    "Choose": {
      "Type": "Choice",
      "Choices": [
        {"Variable": "$.x", "NumericEquals": 1, "Next": "One"},
        {"Variable": "$.x", "NumericEquals": 2, "Next": "Two"}
      ,
      "Default": "Two"
    },
    "One": {"Type": "Succeed"},
    "Two": {"Type": "Succeed"}
  }
}
"""


def test_a_missing_bracket_is_placed_where_the_indentation_says_it_was_forgotten() -> None:
    (problem,) = problems(MISSING_BRACKET)
    assert (problem.code, problem.line, problem.column) == ("INVALID_JSON", 9, 7)
    assert "']' is probably missing" in problem.message
    assert "the '[' opened at line 6, column 18" in problem.message


def test_a_state_missing_its_brace_before_the_next_state_is_placed_at_that_state() -> None:
    text = MISSING_BRACE.replace('"Next": "Assign Case"\n    ,\n', '"Next": "Assign Case"\n')
    (problem,) = problems(text)
    assert (problem.line, problem.column) == (9, 5)  # "Assign Case" starts where "}," was due


def test_a_brace_missing_at_the_very_end_names_the_unclosed_object() -> None:
    text = MISSING_BRACE.replace(
        '"Next": "Assign Case"\n    ,\n', '"Next": "Assign Case"\n    },\n'
    )
    text = text.rstrip().removesuffix("}")
    (problem,) = problems(text)
    assert problem.code == "INVALID_JSON"
    assert "the '{' opened at line 1, column 1 is never closed" in problem.message


def test_text_without_indentation_keeps_the_parsers_position() -> None:
    text = MISSING_BRACE.replace("\n", " ")
    (problem,) = problems(text)
    assert problem.code == "INVALID_JSON"
    assert problem.line == 1
    assert "probably missing" not in problem.message


def test_flush_left_text_gives_no_false_hint() -> None:
    text = "\n".join(line.strip() for line in MISSING_BRACE.splitlines())
    (problem,) = problems(text)
    assert "probably missing" not in problem.message


def test_a_byte_order_mark_in_a_file_is_not_an_error(tmp_path: Path) -> None:
    file = tmp_path / "Bom.asl.json"
    file.write_text(json.dumps(one({"Type": "Succeed"})), encoding="utf-8-sig")
    assert load_definition_file(file).start_at == "A"
