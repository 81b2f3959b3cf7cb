"""Activities through boto3 and the AWS CLI: the resource actions, and executions whose Task
is an activity, served by an unchanged boto3 worker running as a process of its own
(``tests/fixtures/activity_worker.py``) against a real orchestrator and the real broker.

The orchestrator holds a GetActivityTask for 1 s here (``SFN_ACTIVITY_POLL_SECONDS``), not
AWS's 60. The last tests drive the API in this process: pollers past the limit, a poll whose
client left, and polls ended at once when the server stops.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from broker.topology import DEAD_LETTER_SUFFIX, activity_queue
from orchestrator.api import activities as activities_module
from orchestrator.api.errors import ApiError
from orchestrator.api.server import ApiServer
from tests.api.inprocess import InProcessApi, in_process_api
from tests.processes import REPO, Service, start, start_orchestrator

pytestmark = pytest.mark.integration
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "anything",
    "AWS_SECRET_ACCESS_KEY": "anything",
    "AWS_DEFAULT_REGION": "us-east-1",
}
WORKER = "worker-1"
ACCOUNT_PREFIX = "arn:aws:states:us-east-1:123456789012"
ROLE = "arn:aws:iam::123456789012:role/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(endpoint: str, **config: Any) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
        config=Config(**config),
    )


@dataclass
class Stack:
    """The orchestrator serving the API, a worker process polling ``activity``, and the
    activities this module created (their queues are deleted afterwards)."""

    endpoint: str
    sfn: Any
    activity: str = ""
    names: list[str] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)

    def new_activity(self, prefix: str, **options: Any) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        return str(self.sfn.create_activity(name=name, **options)["activityArn"])


@pytest.fixture(scope="module")
def stack(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("activities")
    env = {**os.environ, **AWS_ENV, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env["SFN_ACTIVITY_POLL_SECONDS"] = "1"
    env.pop("SFN_ACCESS_KEY_ID", None)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    result = Stack(endpoint, client(endpoint))
    try:
        result.services.append(start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port))
        result.activity = result.new_activity("Approve")
        worker = start(
            "activity-worker",
            ["tests.fixtures.activity_worker", endpoint, result.activity, WORKER],
            env,
            tmp,
        )
        result.services.insert(0, worker)  # stopped first: its poll ends before the API stops
        worker.wait_for("polling")
        yield result
    finally:
        for service in result.services:
            service.stop()
        asyncio.run(_delete_queues(amqp_url, result.names))


async def _delete_queues(url: str, names: list[str]) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    for name in names:
        for queue in (activity_queue(name), activity_queue(name) + DEAD_LETTER_SUFFIX):
            await channel.queue_delete(queue)
    await connection.close()


def machine(sfn: Any, activity: str, **task: Any) -> str:
    """A state machine whose one Task is ``activity``; a rejection is caught by name."""
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": activity,
                **task,
                "Catch": [
                    {
                        "ErrorEquals": ["Approval.Rejected"],
                        "ResultPath": "$.rejection",
                        "Next": "Rejected",
                    }
                ],
                "End": True,
            },
            "Rejected": {"Type": "Pass", "End": True},
        },
    }
    created = sfn.create_state_machine(
        name=f"Approval{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )
    return str(created["stateMachineArn"])


def run(sfn: Any, machine_arn: str, task: dict[str, Any], timeout: float = 20) -> dict[str, Any]:
    """Start an execution with input ``task`` and wait for its end."""
    arn = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(task))["executionArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running")


def events(sfn: Any, execution: dict[str, Any]) -> list[dict[str, Any]]:
    history = sfn.get_execution_history(executionArn=execution["executionArn"])
    return list(history["events"])


def of_type(history: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in history if e["type"] == kind]


def code_and_message(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


# -- the resource ------------------------------------------------------------------------------


def test_create_is_idempotent_by_name_and_describe_list_tag_delete(stack: Stack) -> None:
    sfn = stack.sfn
    name = f"Lifecycle-{uuid.uuid4().hex[:8]}"
    stack.names.append(name)
    first = sfn.create_activity(name=name, tags=[{"key": "team", "value": "billing"}])
    arn = first["activityArn"]
    assert arn == f"{ACCOUNT_PREFIX}:activity:{name}"
    again = sfn.create_activity(name=name, tags=[{"key": "other", "value": "ignored"}])
    assert (again["activityArn"], again["creationDate"]) == (arn, first["creationDate"])
    described = sfn.describe_activity(activityArn=arn)
    assert (described["activityArn"], described["name"]) == (arn, name)
    assert described["creationDate"] == first["creationDate"]
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "team", "value": "billing"}  # a repeated create's tags are ignored, as AWS's
    ]
    listed = [
        a
        for page in sfn.get_paginator("list_activities").paginate(PaginationConfig={"PageSize": 1})
        for a in page["activities"]
    ]
    assert {"activityArn": arn, "name": name, "creationDate": first["creationDate"]} in listed
    assert len(listed) == len({a["name"] for a in listed}) >= 2  # the worker's one too

    sfn.delete_activity(activityArn=arn)
    for call in (sfn.describe_activity, sfn.get_activity_task):
        with pytest.raises(ClientError) as caught:
            call(activityArn=arn)
        assert code_and_message(caught) == (
            "ActivityDoesNotExist",
            f"Activity Does Not Exist: '{arn}'",
        )
    sfn.delete_activity(activityArn=arn)  # gone already: still 200, as AWS answers
    assert arn not in {a["activityArn"] for a in sfn.list_activities()["activities"]}
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_tags_for_resource(resourceArn=arn)


@pytest.mark.parametrize(
    ("call", "params", "expected"),
    [
        ("create_activity", {"name": "bad name"}, ("InvalidName", "Invalid Name: 'bad name'")),
        ("create_activity", {"name": "a:b"}, ("InvalidName", "Invalid Name: 'a:b'")),
        (
            "create_activity",
            {"name": "Kms", "encryptionConfiguration": {"type": "CUSTOMER_MANAGED_KMS_KEY"}},
            ("InvalidEncryptionConfiguration", None),
        ),
        (
            "describe_activity",
            {"activityArn": "not-an-arn"},
            ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: not-an-arn'"),
        ),
        (
            "get_activity_task",
            {"activityArn": f"{ACCOUNT_PREFIX}:stateMachine:Approve"},
            ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: stateMachine'"),
        ),
        (
            "get_activity_task",
            {"activityArn": "arn:aws:states:eu-west-1:999999999999:activity:Approve"},
            (
                "ActivityDoesNotExist",
                "Activity Does Not Exist: 'arn:aws:states:eu-west-1:999999999999:activity:Approve'",
            ),
        ),
    ],
)
def test_refusals_are_awss(
    stack: Stack, call: str, params: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    with pytest.raises(ClientError) as caught:
        getattr(stack.sfn, call)(**params)
    got = code_and_message(caught)
    assert got[0] == expected[0]
    if expected[1] is not None:
        assert got[1] == expected[1]


# -- executions served by the worker process ---------------------------------------------------


def test_a_worker_process_completes_the_task(stack: Stack) -> None:
    sfn = stack.sfn
    done = run(sfn, machine(sfn, stack.activity), {"do": "succeed", "amount": 5})
    assert done["status"] == "SUCCEEDED", done
    task = {"do": "succeed", "amount": 5}
    assert json.loads(done["output"]) == {"approved": True, "input": task, "worker": WORKER}
    history = events(sfn, done)
    [scheduled] = of_type(history, "ActivityScheduled")
    assert scheduled["activityScheduledEventDetails"]["resource"] == stack.activity
    assert json.loads(scheduled["activityScheduledEventDetails"]["input"]) == task
    [started] = of_type(history, "ActivityStarted")
    assert started["activityStartedEventDetails"] == {"workerName": WORKER}
    assert len(of_type(history, "ActivitySucceeded")) == 1
    kinds = [e["type"] for e in history]
    assert kinds.index("ActivityScheduled") < kinds.index("ActivityStarted")
    assert kinds.index("ActivityStarted") < kinds.index("ActivitySucceeded")


def test_a_failure_from_the_worker_is_caught_by_name(stack: Stack) -> None:
    sfn = stack.sfn
    task = {"do": "fail", "error": "Approval.Rejected", "cause": "too expensive"}
    done = run(sfn, machine(sfn, stack.activity), task)
    assert done["status"] == "SUCCEEDED", done  # the Catch took it to the Rejected state
    assert json.loads(done["output"])["rejection"] == {
        "Error": "Approval.Rejected",
        "Cause": "too expensive",
    }
    [failed] = of_type(events(sfn, done), "ActivityFailed")
    assert failed["activityFailedEventDetails"] == {
        "error": "Approval.Rejected",
        "cause": "too expensive",
    }


def test_heartbeats_keep_a_long_task_alive(stack: Stack) -> None:
    sfn = stack.sfn
    task = {"do": "heartbeat", "beats": 5, "every": 0.4}  # 2 s of work, a heartbeat each 0.4 s
    done = run(sfn, machine(sfn, stack.activity, HeartbeatSeconds=1, TimeoutSeconds=20), task)
    assert done["status"] == "SUCCEEDED", done
    assert [e for e in events(sfn, done) if e["type"] == "ActivityTimedOut"] == []


def test_no_heartbeat_times_the_task_out(stack: Stack) -> None:
    sfn = stack.sfn
    started = time.monotonic()
    done = run(sfn, machine(sfn, stack.activity, HeartbeatSeconds=2), {"do": "ignore"})
    assert time.monotonic() - started >= 2
    assert (done["status"], done["error"]) == ("FAILED", "States.HeartbeatTimeout"), done
    [timed_out] = of_type(events(sfn, done), "ActivityTimedOut")
    assert timed_out["activityTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout"


# -- GetActivityTask itself --------------------------------------------------------------------


def test_no_task_in_the_poll_time_answers_without_a_token(stack: Stack) -> None:
    arn = stack.new_activity("Idle")
    started = time.monotonic()
    answer = stack.sfn.get_activity_task(activityArn=arn, workerName="idle-worker")
    elapsed = time.monotonic() - started
    assert "taskToken" not in answer and "input" not in answer
    assert 0.9 <= elapsed < 5  # SFN_ACTIVITY_POLL_SECONDS=1


def test_a_task_whose_execution_ended_is_not_handed_out(stack: Stack) -> None:
    sfn = stack.sfn
    arn = stack.new_activity("Stale")
    machine_arn = machine(sfn, arn)
    execution = sfn.start_execution(stateMachineArn=machine_arn, input='{"do": "succeed"}')
    sfn.stop_execution(executionArn=execution["executionArn"])
    answer = sfn.get_activity_task(activityArn=arn, workerName="late")
    assert "taskToken" not in answer
    # A live one after it is handed out, with its input as JSON text.
    live = sfn.start_execution(stateMachineArn=machine_arn, input='{"n": 2}')
    answer = sfn.get_activity_task(activityArn=arn, workerName="late")
    assert json.loads(answer["input"]) == {"n": 2}
    sfn.send_task_success(taskToken=answer["taskToken"], output='{"ok": true}')
    described = sfn.describe_execution(executionArn=live["executionArn"])
    for _ in range(100):
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
        described = sfn.describe_execution(executionArn=live["executionArn"])
    assert json.loads(described["output"]) == {"ok": True}


def test_the_aws_cli_creates_an_activity(stack: Stack) -> None:
    name = f"Cli-{uuid.uuid4().hex[:8]}"
    stack.names.append(name)
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "awscli",
            "stepfunctions",
            "--endpoint-url",
            stack.endpoint,
            "--output",
            "json",
            "create-activity",
            "--name",
            name,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **AWS_ENV},
        timeout=60,
        cwd=REPO,
    )
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["activityArn"]
    assert stack.sfn.describe_activity(activityArn=arn)["name"] == name


# -- in this process ---------------------------------------------------------------------------


async def _create(parts: InProcessApi, name: str) -> str:
    answer = await parts.api.call("CreateActivity", {"name": name})
    return str(answer["activityArn"])


async def _cleanup(amqp_url: str, parts: InProcessApi) -> None:
    await parts.api.activities.close()
    await _delete_queues(amqp_url, [r.name for r in parts.store.activities()])


async def test_pollers_past_the_limit_are_refused(
    amqp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activities_module, "MAX_POLLERS", 2)
    async with in_process_api(amqp_url, tmp_path) as parts:
        arn = await _create(parts, f"Limited-{uuid.uuid4().hex[:8]}")
        parts.api.activities.poll_seconds = 30
        polls = [
            asyncio.create_task(parts.api.call("GetActivityTask", {"activityArn": arn}))
            for _ in range(2)
        ]
        await asyncio.sleep(0.3)
        with pytest.raises(ApiError) as refused:
            await parts.api.call("GetActivityTask", {"activityArn": arn})
        assert refused.value.type == "ActivityWorkerLimitExceeded"
        await _cleanup(amqp_url, parts)
        assert await asyncio.gather(*polls) == [{}, {}]  # ended by close(), at once


async def test_a_poll_whose_client_left_stops_waiting(amqp_url: str, tmp_path: Path) -> None:
    async with in_process_api(amqp_url, tmp_path) as parts:
        arn = await _create(parts, f"Left-{uuid.uuid4().hex[:8]}")
        parts.api.activities.poll_seconds = 30
        body = json.dumps({"activityArn": arn}).encode()
        received = 0

        async def receive() -> dict[str, Any]:
            nonlocal received
            received += 1
            if received == 1:
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}  # the worker went away

        sent: list[MutableMapping[str, Any]] = []

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": [(b"x-amz-target", b"AWSStepFunctions.GetActivityTask")],
            "query_string": b"",
        }
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(parts.app(scope, receive, send), 10)
        assert asyncio.get_running_loop().time() - started < 3  # not the 30 s of the poll
        assert sent[0]["status"] == 200
        await _cleanup(amqp_url, parts)


async def test_pending_polls_return_promptly_when_the_server_stops(
    amqp_url: str, tmp_path: Path
) -> None:
    async with in_process_api(amqp_url, tmp_path) as parts:
        arn = await _create(parts, f"Stopping-{uuid.uuid4().hex[:8]}")
        parts.api.activities.poll_seconds = 60  # AWS's
        server = ApiServer(parts.app, "127.0.0.1", 0)
        await server.start()
        worker = client(f"http://127.0.0.1:{server.port}", read_timeout=70)
        poll = asyncio.create_task(
            asyncio.to_thread(worker.get_activity_task, activityArn=arn, workerName="w")
        )
        await asyncio.sleep(1.5)  # past a check that its client is still there: it is
        assert not poll.done()
        started = asyncio.get_running_loop().time()
        await parts.api.activities.close()  # what the service does before stopping the server
        await asyncio.wait_for(server.stop(), 5)
        answer = await asyncio.wait_for(poll, 5)
        assert asyncio.get_running_loop().time() - started < 3
        assert "taskToken" not in answer
        await _delete_queues(amqp_url, [r.name for r in parts.store.activities()])
