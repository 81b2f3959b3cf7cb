"""The Step Functions API driven by boto3 and the AWS CLI, as users would point them at us.

One orchestrator process serves the API on a free local port, with the call-center workers
and the test functions' workers running on the real broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.amqp import purge_function_queues, purge_topology
from tests.processes import REPO, WORKER_NAMES, Service, start, start_orchestrator

pytestmark = pytest.mark.integration
PASS = json.dumps(
    {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
)
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})
TOKEN_TASK = json.dumps(
    {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": "TokenRecorder",
                    "Payload": {"token.$": "$$.Task.Token", "file.$": "$.file"},
                },
                "End": True,
            }
        },
    }
)
ROLE = "arn:aws:iam::123456789012:role/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("api")
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env.pop("SFN_ACCESS_KEY_ID", None)
    asyncio.run(_purge(amqp_url))
    port = free_port()
    services: list[Service] = []
    try:
        services.append(start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port))
        for worker in WORKER_NAMES:
            services.append(start(f"worker-{worker}", ["workers", worker], env, tmp))
        services.append(
            start(
                "token",
                ["workers", "TokenRecorder", "--import", "tests.fixtures.functions"],
                env,
                tmp,
            )
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        for service in services:
            service.stop()


async def _purge(url: str) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await purge_topology(channel)
    await purge_function_queues(channel, ["TokenRecorder"])
    await connection.close()


@pytest.fixture(scope="module")
def sfn(endpoint: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
        # boto3 sends StartSyncExecution to "sync-<host>"; a local endpoint has no such name.
        config=Config(inject_host_prefix=False),
    )


def wait_done(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running")


def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_definitions_folder_machines_are_listed_with_a_paginator(sfn: Any) -> None:
    names = [
        m["name"]
        for page in sfn.get_paginator("list_state_machines").paginate(
            PaginationConfig={"PageSize": 1}
        )
        for m in page["stateMachines"]
    ]
    assert {"CallCenterStateMachine", "CallCenterLoop"} <= set(names)
    assert len(names) == len(set(names))


def test_the_call_center_through_start_execution_describe_and_history(sfn: Any) -> None:
    machine = next(
        m
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"] == "CallCenterStateMachine"
    )
    started = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        name=f"api-{uuid.uuid4().hex[:8]}",
        input='{"inputCaseID": "077"}',
    )
    assert started["executionArn"].endswith(
        ":execution:CallCenterStateMachine:" + started["executionArn"].split(":")[-1]
    )
    described = wait_done(sfn, started["executionArn"])
    assert described["status"] in {"SUCCEEDED", "FAILED"}
    assert json.loads(described["input"]) == {"inputCaseID": "077"}
    if described["status"] == "SUCCEEDED":
        assert (
            json.loads(described["output"])["Message"]
            == "Case 077: opened...assigned...resolved...closed."
        )
    else:
        assert described["cause"] == "Engage Tier 2 Support."
    pages = list(
        sfn.get_paginator("get_execution_history").paginate(
            executionArn=started["executionArn"], PaginationConfig={"PageSize": 5}
        )
    )
    assert len(pages) > 1
    events = [e for page in pages for e in page["events"]]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] in {
        "ExecutionSucceeded",
        "ExecutionFailed",
    }
    assert isinstance(events[0]["timestamp"].timestamp(), float)
    reverse = sfn.get_execution_history(
        executionArn=started["executionArn"], reverseOrder=True, includeExecutionData=False
    )["events"]
    assert reverse[0]["id"] == events[-1]["id"]
    assert "input" not in reverse[-1]["executionStartedEventDetails"]
    listed = sfn.list_executions(
        stateMachineArn=machine["stateMachineArn"], statusFilter=described["status"]
    )["executions"]
    assert started["executionArn"] in {e["executionArn"] for e in listed}
    for_execution = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(for_execution["definition"])["StartAt"] == "Open Case"


def test_jsonata_machines_through_the_api(sfn: Any) -> None:
    definition = (REPO / "definitions" / "CallCenterJsonata.asl.json").read_text()
    name = f"Jsonata{uuid.uuid4().hex[:6]}"
    arn = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]
    started = sfn.start_execution(stateMachineArn=arn, input='{"inputCaseID": "J7"}')
    described = wait_done(sfn, started["executionArn"])
    if described["status"] == "SUCCEEDED":
        assert json.loads(described["output"])["Case"] == "J7"
    else:
        assert (described["error"], described["cause"]) == (
            "CaseEscalated",
            "Case J7: engage Tier 2 Support.",
        )
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    opened = next(e for e in events if e["type"] == "TaskStateExited")
    assert opened["stateExitedEventDetails"]["assignedVariables"] == {"caseId": '"J7"'}
    express = json.dumps(
        {
            "QueryLanguage": "JSONata",
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "Items": "{% $range(1, $states.input.n, 1) %}",
                    "ItemProcessor": {
                        "StartAt": "Square",
                        "States": {
                            "Square": {
                                "Type": "Pass",
                                "Output": "{% $states.input * $states.input %}",
                                "End": True,
                            }
                        },
                    },
                    "Output": "{% $sum($states.result) %}",
                    "End": True,
                }
            },
        }
    )
    quick = sfn.create_state_machine(
        name=f"JsonataSync{uuid.uuid4().hex[:6]}", definition=express, roleArn=ROLE, type="EXPRESS"
    )
    done = sfn.start_sync_execution(stateMachineArn=quick["stateMachineArn"], input='{"n": 4}')
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", 30)
    bad = express.replace("$states.input * $states.input", "$states.input *")
    with pytest.raises(
        sfn.exceptions.InvalidDefinition, match=r"/States/Each/ItemProcessor/States/Square/Output"
    ):
        sfn.create_state_machine(name=f"Bad{uuid.uuid4().hex[:6]}", definition=bad, roleArn=ROLE)


def test_state_machine_lifecycle_and_tags(sfn: Any) -> None:
    name = f"Life{uuid.uuid4().hex[:6]}"
    created = sfn.create_state_machine(
        name=name, definition=PASS, roleArn=ROLE, tags=[{"key": "team", "value": "ops"}]
    )
    arn = created["stateMachineArn"]
    assert arn.endswith(f":stateMachine:{name}")
    assert (
        sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE)["stateMachineArn"] == arn
    )  # idempotent
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["type"], described["roleArn"], described["status"]) == (
        name,
        "STANDARD",
        ROLE,
        "ACTIVE",
    )
    assert json.loads(described["definition"]) == json.loads(PASS)
    updated = PASS.replace('"ok": true', '"ok": false')
    sfn.update_state_machine(stateMachineArn=arn, definition=updated)
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["States"]["P"][
        "Result"
    ] == {"ok": False}
    run = sfn.start_execution(stateMachineArn=arn)
    assert json.loads(wait_done(sfn, run["executionArn"])["output"]) == {"ok": False}
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "test"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "env", "value": "test"},
        {"key": "team", "value": "ops"},
    ]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "test"}]
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_validate_state_machine_definition(sfn: Any) -> None:
    assert sfn.validate_state_machine_definition(definition=PASS)["result"] == "OK"
    bad = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    answer = sfn.validate_state_machine_definition(definition=bad)
    assert answer["result"] == "FAIL"
    first = answer["diagnostics"][0]
    assert (first["severity"], first["code"], first["location"]) == (
        "ERROR",
        "MISSING_TRANSITION_TARGET",
        "/States/A/Next",
    )
    # AWS's codes: no terminal state, broken JSON, and what EXPRESS machines may not call.
    loop = json.dumps(
        {
            "StartAt": "A",
            "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}},
        }
    )
    [endless] = sfn.validate_state_machine_definition(definition=loop)["diagnostics"]
    assert endless["code"] == "MISSING_END_STATE" and "location" not in endless
    [broken] = sfn.validate_state_machine_definition(definition='{"StartAt": ')["diagnostics"]
    assert broken["code"] == "INVALID_JSON_DESCRIPTION"
    callback = json.dumps(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "F", "Payload.$": "$"},
                    "End": True,
                }
            },
        }
    )
    assert sfn.validate_state_machine_definition(definition=callback)["result"] == "OK"
    express = sfn.validate_state_machine_definition(definition=callback, type="EXPRESS")
    assert [d["location"] for d in express["diagnostics"]] == ["/States/T/Resource"]
    with pytest.raises(sfn.exceptions.InvalidDefinition, match="Express state machine"):
        sfn.create_state_machine(
            name=f"express-callback-{uuid.uuid4().hex[:8]}",
            definition=callback,
            roleArn=ROLE,
            type="EXPRESS",
        )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (
            lambda s: s.create_state_machine(name="bad name", definition=PASS, roleArn=ROLE),
            "InvalidName",
        ),
        (
            lambda s: s.create_state_machine(name="Broken", definition="{", roleArn=ROLE),
            "InvalidDefinition",
        ),
        (
            lambda s: s.create_state_machine(name="CallCenterLoop", definition=PASS, roleArn=ROLE),
            "StateMachineAlreadyExists",
        ),
        (lambda s: s.describe_state_machine(stateMachineArn="not-an-arn"), "InvalidArn"),
        (
            lambda s: s.describe_state_machine(
                stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:Nope"
            ),
            "StateMachineDoesNotExist",
        ),
        (
            lambda s: s.describe_execution(
                executionArn="arn:aws:states:us-east-1:123456789012:execution:CallCenterLoop:nope"
            ),
            "ExecutionDoesNotExist",
        ),
        (
            lambda s: s.start_execution(
                stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:CallCenterLoop",
                input="{nope",
            ),
            "InvalidExecutionInput",
        ),
        (
            lambda s: s.send_task_success(taskToken="0" * 32 + ".99", output="{}"),
            "TaskDoesNotExist",
        ),
        (lambda s: s.send_task_heartbeat(taskToken="definitely-not-a-token"), "InvalidToken"),
        (lambda s: s.send_task_success(taskToken="0" * 32 + ".1", output="{nope"), "InvalidOutput"),
        (
            lambda s: s.start_sync_execution(
                stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:CallCenterLoop"
            ),
            "StateMachineTypeNotSupported",
        ),
    ],
)
def test_errors_arrive_as_botos_modeled_exceptions(sfn: Any, call: Any, error: str) -> None:
    with pytest.raises(ClientError) as caught:
        call(sfn)
    assert code(caught) == error
    assert isinstance(caught.value, getattr(sfn.exceptions, error))


def test_start_execution_is_idempotent_while_running_then_refuses(sfn: Any) -> None:
    arn = sfn.create_state_machine(
        name=f"Wait{uuid.uuid4().hex[:6]}", definition=WAIT, roleArn=ROLE
    )["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=arn, name="same", input="{}")
    assert (
        sfn.start_execution(stateMachineArn=arn, name="same", input="{}")["executionArn"]
        == first["executionArn"]
    )
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="same", input='{"other": 1}')
    stopped = sfn.stop_execution(executionArn=first["executionArn"], error="Ops", cause="no need")
    assert stopped["stopDate"]
    described = sfn.describe_execution(executionArn=first["executionArn"])
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED",
        "Ops",
        "no need",
    )
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="same", input="{}")
    aborted = sfn.list_executions(stateMachineArn=arn, statusFilter="ABORTED")["executions"]
    assert [e["name"] for e in aborted] == ["same"]


def test_start_sync_execution_of_an_express_machine(sfn: Any) -> None:
    arn = sfn.create_state_machine(
        name=f"Express{uuid.uuid4().hex[:6]}", definition=PASS, roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=arn, input='{"in": 1}')
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"ok": True}


def test_task_tokens_through_the_api(sfn: Any, tmp_path: Path) -> None:
    arn = sfn.create_state_machine(
        name=f"Token{uuid.uuid4().hex[:6]}", definition=TOKEN_TASK, roleArn=ROLE
    )["stateMachineArn"]

    def token_for(execution: str) -> str:
        path = tmp_path / execution
        sfn.start_execution(
            stateMachineArn=arn, name=execution, input=json.dumps({"file": str(path)})
        )
        for _ in range(200):
            if path.exists():
                return path.read_text()
            time.sleep(0.05)
        raise AssertionError("the function never ran")

    token = token_for("approve")
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    approved = wait_done(sfn, arn.replace(":stateMachine:", ":execution:") + ":approve")
    assert json.loads(approved["output"]) == {"approved": True}
    token = token_for("reject")
    sfn.send_task_failure(taskToken=token, error="Rejected", cause="too expensive")
    rejected = wait_done(sfn, arn.replace(":stateMachine:", ":execution:") + ":reject")
    assert (rejected["status"], rejected["error"], rejected["cause"]) == (
        "FAILED",
        "Rejected",
        "too expensive",
    )
    with pytest.raises(sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_success(taskToken=token, output="{}")


def test_without_configured_credentials_any_or_no_signature_is_accepted(endpoint: str) -> None:
    unsigned = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    assert unsigned.list_state_machines()["stateMachines"]
    other = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="ap-south-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    assert other.list_state_machines()["stateMachines"]


def test_metrics_are_served(sfn: Any, endpoint: str) -> None:
    text = urllib.request.urlopen(endpoint + "/metrics", timeout=10).read().decode()
    for metric in (
        "sfn_executions_started_total",
        "sfn_executions_finished_total",
        "sfn_state_transitions_total",
        "sfn_task_duration_seconds_bucket",
        "sfn_queue_messages",
    ):
        assert metric in text, metric
    assert 'sfn_executions_started_total{state_machine="CallCenterStateMachine"}' in text


def test_the_aws_cli_lists_state_machines_and_starts_an_execution(sfn: Any, endpoint: str) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    aws = [
        sys.executable,
        "-m",
        "awscli",
        "stepfunctions",
        "--endpoint-url",
        endpoint,
        "--output",
        "json",
    ]
    listed = subprocess.run(
        [*aws, "list-state-machines"], capture_output=True, text=True, env=env, timeout=60, cwd=REPO
    )
    assert listed.returncode == 0, listed.stderr
    machines = {m["name"]: m["stateMachineArn"] for m in json.loads(listed.stdout)["stateMachines"]}
    assert "CallCenterLoop" in machines
    started = subprocess.run(
        [
            *aws,
            "start-execution",
            "--state-machine-arn",
            machines["CallCenterLoop"],
            "--input",
            '{"inputCaseID": "cli"}',
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )
    assert started.returncode == 0, started.stderr
    arn = json.loads(started.stdout)["executionArn"]
    assert wait_done(sfn, arn)["status"] == "SUCCEEDED"  # the loop variant always closes


def test_test_state_through_boto3(sfn: Any) -> None:
    definition = {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:price",
        "ResultPath": "$.price",
        "Next": "Ship",
    }
    answer = sfn.test_state(
        definition=json.dumps(definition),
        roleArn=ROLE,
        input='{"id": 1}',
        mock={"result": '{"amount": 4}'},
        inspectionLevel="DEBUG",
    )
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "Ship")
    assert json.loads(answer["output"]) == {"id": 1, "price": {"amount": 4}}
    assert json.loads(answer["inspectionData"]["result"]) == {"amount": 4}
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.test_state(definition=json.dumps({**definition, "Next": None, "End": True}))


def test_redrive_execution_through_boto3(sfn: Any) -> None:
    pick = (
        "States.ArrayGetItem(States.ArrayRange(7, 7, 1),"
        " States.MathAdd($$.Execution.RedriveCount, -1))"
    )
    definition = {
        "StartAt": "Pick",
        "States": {"Pick": {"Type": "Pass", "Parameters": {"v.$": pick}, "End": True}},
    }
    arn = sfn.create_state_machine(
        name=f"Redrive{uuid.uuid4().hex[:6]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    failed = wait_done(sfn, run)
    assert (failed["status"], failed["redriveStatus"], failed["redriveCount"]) == (
        "FAILED",
        "REDRIVABLE",
        0,
    )
    assert "redriveDate" in sfn.redrive_execution(executionArn=run)
    done = wait_done(sfn, run)
    assert (done["status"], json.loads(done["output"]), done["redriveCount"]) == (
        "SUCCEEDED",
        {"v": 7},
        1,
    )
    assert done["redriveStatus"] == "NOT_REDRIVABLE" and "redriveDate" in done
    types = [e["type"] for e in sfn.get_execution_history(executionArn=run)["events"]]
    assert types.count("ExecutionRedriven") == 1 and types[-1] == "ExecutionSucceeded"
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=run)
    redriven = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
    assert [e["executionArn"] for e in redriven] == [run]
    other = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    wait_done(sfn, other)
    never = sfn.list_executions(stateMachineArn=arn, redriveFilter="NOT_REDRIVEN")["executions"]
    assert [e["executionArn"] for e in never] == [other]
