"""The routing table (SFN_INTEGRATIONS): defaults, a file's routes, refusals, and the queue
each dispatched task is published to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from broker.topology import CALLS_QUEUE, activity_queue, function_queue, integration_queue
from orchestrator.asl import interpreter
from orchestrator.asl.loader import load_definition
from orchestrator.integrations.dispatch import dispatch_message
from orchestrator.integrations.mock_config import MockConfig
from orchestrator.integrations.mock_target import MockTarget
from orchestrator.integrations.routing import Route, Routing, RoutingError
from orchestrator.local_runner import FakeClock
from tests.processes import REPO, serve_with


@pytest.mark.parametrize(
    ("task", "target"),
    [
        (("function", "", "", ""), "worker"),
        (("invoke", "lambda", "invoke", ""), "worker"),
        (("activity", "", "", ""), "engine"),
        (("service", "states", "startExecution", ".sync:2"), "engine"),
        (("service", "aws-sdk:sfn", "startExecution", ""), "engine"),
        (("service", "aws-sdk:sfn", "describeExecution", ""), "aws"),
        (("service", "dynamodb", "putItem", ""), "aws"),
        (("service", "aws-sdk:s3", "getObject", ""), "aws"),
        (("service", "sqs", "sendMessage", ".waitForTaskToken"), "aws"),
    ],
)
def test_defaults(task: tuple[str, str, str, str], target: str) -> None:
    assert Routing().route(*task).target == target


def test_the_first_matching_route_wins_and_globs_cover_patterns() -> None:
    routing = Routing.parse(
        json.dumps(
            {
                "Routes": [
                    {"Resource": "dynamodb:getItem", "Target": "aws", "EndpointUrl": "http://x"},
                    {"Resource": "dynamodb:*", "Target": "worker"},
                    {"Resource": "sqs:sendMessage*", "Target": "worker"},
                ]
            }
        )
    )
    assert routing.route("service", "dynamodb", "getItem", "") == Route("aws", "http://x")
    assert routing.route("service", "dynamodb", "putItem", "") == Route("worker")
    assert routing.route("service", "sqs", "sendMessage", ".waitForTaskToken") == Route("worker")
    assert routing.route("service", "sns", "publish", "") == Route("aws")


def test_a_bad_file_lists_every_problem() -> None:
    text = json.dumps(
        {
            "Routes": [
                {"Resource": "dynamodb:*", "Target": "carrier-pigeon"},
                {"Target": "worker", "Colour": "blue"},
                {"Resource": "sqs:*", "Target": "worker", "EndpointUrl": "http://x"},
                "sns:*",
            ],
            "Defaults": {},
        }
    )
    with pytest.raises(RoutingError) as caught:
        Routing.parse(text, "routes.json")
    problems = caught.value.problems
    assert len(problems) == 6, problems
    assert any(p.startswith('/Routes/0/Target: "carrier-pigeon"') for p in problems)
    assert any(p.startswith("/Routes/1/Colour: unknown field") for p in problems)
    assert any(p.startswith("/Routes/1/Resource:") for p in problems)
    assert any(p.startswith("/Routes/2/EndpointUrl:") for p in problems)
    assert any(p.startswith("/Routes/3:") for p in problems)
    assert any(p.startswith("/Defaults: unknown field") for p in problems)
    assert str(caught.value).startswith("routes.json: the routing file is refused")


def test_serve_refuses_a_bad_routing_file_before_connecting(tmp_path: Path) -> None:
    routes = tmp_path / "routes.json"
    routes.write_text('{"Routes": [{"Resource": "x", "Target": "nowhere"}]}')
    done = serve_with({"SFN_INTEGRATIONS": str(routes)}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "/Routes/0/Target" in done.stderr and "nowhere" in done.stderr


def _dispatched(resource: str, parameters: object = None) -> interpreter.Step:
    state: dict[str, object] = {"Type": "Task", "Resource": resource, "End": True}
    if parameters is not None:
        state["Parameters"] = parameters
    machine = load_definition(json.dumps({"StartAt": "T", "States": {"T": state}}), name="M")
    start = interpreter.StartExecution(
        "arn:aws:states:us-east-1:123456789012:execution:M:e",
        "e",
        "arn:aws:states:us-east-1:123456789012:stateMachine:M",
        {},
        FakeClock().now(),
        "secret",
        test_case="Case",
    )
    return interpreter.step(machine, None, start)


@pytest.mark.parametrize(
    ("resource", "parameters", "queue"),
    [
        ("arn:aws:lambda:us-east-1:123456789012:function:F", None, function_queue("F")),
        ("arn:aws:states:::lambda:invoke", {"FunctionName": "F"}, function_queue("F")),
        ("arn:aws:states:::dynamodb:putItem", {}, CALLS_QUEUE),
        ("arn:aws:states:::states:startExecution", {}, CALLS_QUEUE),
        ("arn:aws:states:us-east-1:123456789012:activity:Approve", None, activity_queue("Approve")),
    ],
)
def test_each_task_goes_to_its_routes_queue(resource: str, parameters: object, queue: str) -> None:
    step = _dispatched(resource, parameters)
    (command,) = [c for c in step.commands if isinstance(c, interpreter.DispatchTask)]
    assert dispatch_message(command, step.state, Routing()).routing_key == queue


def test_worker_routes_and_mocks_override_the_defaults() -> None:
    step = _dispatched("arn:aws:states:::dynamodb:putItem", {"TableName": "t"})
    (command,) = [c for c in step.commands if isinstance(c, interpreter.DispatchTask)]
    workers = Routing.parse('{"Routes": [{"Resource": "dynamodb:*", "Target": "worker"}]}')
    message = dispatch_message(command, step.state, workers)
    assert message.routing_key == integration_queue("dynamodb", "putItem")
    assert json.loads(message.body)["parameters"] == {"TableName": "t"}
    mocks = MockConfig.parse(
        json.dumps(
            {
                "StateMachines": {"M": {"TestCases": {"Case": {"T": "R"}}}},
                "MockedResponses": {"R": {"0": {"Return": {}}}},
            }
        )
    )
    assert dispatch_message(command, step.state, workers, MockTarget(mocks)).routing_key == (
        CALLS_QUEUE
    )


def test_validate_says_where_each_tasks_calls_go(tmp_path: Path) -> None:
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Next": "Ask"},
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:123456789012:activity:Approve",
                "Next": "Open",
            },
            "Open": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Open",
                "End": True,
            },
        },
    }
    file = tmp_path / "m.asl.json"
    file.write_text(json.dumps(definition))
    routes = tmp_path / "routes.json"
    routes.write_text('{"Routes": [{"Resource": "dynamodb:*", "Target": "worker"}]}')
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "validate", str(file)],
        cwd=REPO,
        env={**os.environ, "SFN_INTEGRATIONS": str(routes)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "Put: arn:aws:states:::dynamodb:putItem -> worker queue integration.dynamodb.putItem"
        in (done.stdout)
    )
    assert "-> activity queue activity.Approve" in done.stdout
    assert (
        "Open: arn:aws:lambda:us-east-1:123456789012:function:Open -> worker queue lambda.Open"
        in (done.stdout)
    )


def test_run_answers_a_test_case_in_process(tmp_path: Path) -> None:
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "t", "Key": {"id": {"S": "1"}}},
                "ResultSelector": {"name.$": "$.Item.name.S"},
                "End": True,
            }
        },
    }
    file = tmp_path / "Orders.asl.json"
    file.write_text(json.dumps(definition))
    mocks = tmp_path / "mocks.json"
    mocks.write_text(
        json.dumps(
            {
                "StateMachines": {"Orders": {"TestCases": {"Found": {"Put": "Item"}}}},
                "MockedResponses": {"Item": {"0": {"Return": {"Item": {"name": {"S": "Ada"}}}}}},
            }
        )
    )
    env = {**os.environ, "SFN_MOCK_CONFIG": str(mocks)}
    command = [sys.executable, "-m", "orchestrator", "run", str(file), "--test-case"]
    done = subprocess.run([*command, "Found"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == {"name": "Ada"}
    missing = subprocess.run([*command, "Lost"], cwd=REPO, env=env, capture_output=True, text=True)
    assert missing.returncode == 2
    assert "no test case 'Lost' for state machine 'Orders'" in missing.stderr


def test_a_hostile_routing_file_is_refused_not_read_whole(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    huge.write_text('{"Routes": [' + '{"Resource": "x:y", "Target": "aws"},' * 40_000 + "]}")
    with pytest.raises(RoutingError, match="larger than 1048576 bytes"):
        Routing.load(huge)
    with pytest.raises(RoutingError, match="not JSON"):
        Routing.parse('{"Routes": ' + "[" * 10_000 + "]" * 10_000 + "}")
    with pytest.raises(RoutingError, match="not UTF-8"):
        (tmp_path / "bytes.json").write_bytes(b"\xff\xfe{")
        Routing.load(tmp_path / "bytes.json")
