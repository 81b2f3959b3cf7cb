"""``.sync`` jobs of the ``aws`` target on the real service: polled through RabbitMQ's delay
queues, stopped when their task stops waiting, carried on across a crash.

Each test starts its own orchestrator process (``AWS_ENDPOINT_URL`` points its aws target at a
moto server process; ``SFN_JOB_POLL_SECONDS`` makes polls come fast) and drives it through
boto3. moto's state manager sets how Athena queries progress: one state per describe, never,
or one state every few seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import boto3
import pytest
from botocore.config import Config

from broker import DEAD_LETTER_SUFFIX, REASON_HEADER, Topology
from broker.topology import CALLS_QUEUE
from orchestrator.integrations.aws.jobs import poll_delays
from tests.api.test_boto3 import free_port, wait_done
from tests.integration.amqp import purge_topology
from tests.integrations.moto_server import MotoServer, moto_server  # noqa: F401
from tests.processes import REPO, Service, start_orchestrator

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/test"
POLL_SECONDS = 0.2
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Orchestrator:
    """One orchestrator's store and API port, run by one process after another."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env = env
        self.tmp = tmp
        self.port = free_port()
        self.runs: list[Service] = []
        self.sfn = boto3.client(
            "stepfunctions",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id="anything",
            aws_secret_access_key="anything",
            config=Config(inject_host_prefix=False),
        )

    def start(self) -> Service:
        name = f"orchestrator-{len(self.runs) + 1}"
        service = start_orchestrator(
            self.env, self.tmp, self.tmp / "sfn.db", name=name, api_port=self.port
        )
        self.runs.append(service)
        return service

    def kill(self) -> None:
        """SIGKILL: no graceful stop, whatever it was doing."""
        process = self.runs[-1].process
        process.kill()
        process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {run.name} ---\n{run.output()[-6000:]}" for run in self.runs)


@pytest.fixture
def orchestrator(
    amqp_url: str,
    moto_server: MotoServer,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Orchestrator]:
    env = {
        **os.environ,
        **DUMMY_AWS,
        "AMQP_URL": amqp_url,
        "PYTHONUNBUFFERED": "1",
        "AWS_ENDPOINT_URL": moto_server.url,
        "SFN_JOB_POLL_SECONDS": str(POLL_SECONDS),
    }
    for name in ("SFN_ACCESS_KEY_ID", "SFN_INTEGRATIONS", "SFN_MOCK_CONFIG"):
        env.pop(name, None)
    asyncio.run(_purge(amqp_url))
    running = Orchestrator(env, tmp_path)
    running.start()
    try:
        yield running
    finally:
        for run in running.runs:
            run.stop()


async def _purge(url: str) -> None:
    """Empty the service's queues, the delay queues among them (an earlier run's polls)."""
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    topology = await purge_topology(channel)
    for delay in poll_delays(POLL_SECONDS):
        await (await topology.calls_delay_queue(delay)).purge()
    await connection.close()


@pytest.fixture
def athena(moto_server: MotoServer) -> Any:  # noqa: F811
    return boto3.client(
        "athena",
        endpoint_url=moto_server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def progression(moto_server: MotoServer) -> Iterator[Callable[[dict[str, Any]], None]]:  # noqa: F811
    """Sets how moto's Athena queries move on (QUEUED, RUNNING, SUCCEEDED); reset after."""

    def set_to(transition: dict[str, Any] | None) -> None:
        action = "set-transition" if transition else "unset-transition"
        body = json.dumps({"model_name": "athena::execution", "transition": transition}).encode()
        request = urllib.request.Request(f"{moto_server.url}/moto-api/state-manager/{action}", body)
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 201

    yield set_to
    set_to(None)


def query_machine(query: str, **task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Query",
        "States": {
            "Query": {
                "Type": "Task",
                "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
                "Parameters": {
                    "QueryString": query,
                    "ResultConfiguration": {"OutputLocation": "s3://results/"},
                },
                "End": True,
                **task,
            }
        },
    }


def start(sfn: Any, definition: dict[str, Any]) -> str:
    name = f"M{uuid.uuid4().hex[:10]}"
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    return str(execution["executionArn"])


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = sfn.get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return events


def query_ids(athena: Any) -> set[str]:
    """Every query execution moto has run (tests run one at a time: the new ones are ours)."""
    return set(athena.list_query_executions()["QueryExecutionIds"])


def state_of(athena: Any, query_id: str) -> str:
    return str(
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
    )


def unique_query() -> str:
    return f"SELECT '{uuid.uuid4().hex}'"


def test_a_sync_job_succeeds_with_its_description(
    orchestrator: Orchestrator, athena: Any, progression: Callable[[dict[str, Any]], None]
) -> None:
    progression({"progression": "manual", "times": 1})  # RUNNING, then SUCCEEDED
    query = unique_query()
    before = query_ids(athena)
    described = wait_done(orchestrator.sfn, start(orchestrator.sfn, query_machine(query)))
    assert described["status"] == "SUCCEEDED", orchestrator.logs()
    [ran] = query_ids(athena) - before
    execution = json.loads(described["output"])["QueryExecution"]
    assert execution["QueryExecutionId"] == ran
    assert (execution["Query"], execution["Status"]["State"]) == (query, "SUCCEEDED")
    events = history(orchestrator.sfn, described["executionArn"])
    types = [event["type"] for event in events]
    task = [t for t in types if t.startswith("Task") and not t.startswith("TaskState")]
    assert task == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    submitted = next(e for e in events if e["type"] == "TaskSubmitted")
    answer = json.loads(submitted["taskSubmittedEventDetails"]["output"])
    assert answer["QueryExecutionId"] == ran


def test_a_task_that_times_out_stops_its_job(
    orchestrator: Orchestrator, athena: Any, progression: Callable[[dict[str, Any]], None]
) -> None:
    progression({"progression": "manual", "times": 1_000_000})  # QUEUED for good
    before = query_ids(athena)
    arn = start(orchestrator.sfn, query_machine(unique_query(), TimeoutSeconds=1))
    described = wait_done(orchestrator.sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"
    types = [event["type"] for event in history(orchestrator.sfn, arn)]
    assert "TaskSubmitted" in types and "TaskTimedOut" in types
    # The next poll finds the task no longer waiting and stops the query, as AWS does.
    [ran] = query_ids(athena) - before
    deadline = time.monotonic() + 10
    while state_of(athena, ran) != "CANCELLED":
        assert time.monotonic() < deadline, orchestrator.logs()
        time.sleep(0.1)


def test_a_killed_orchestrator_polls_on_without_starting_the_job_again(
    orchestrator: Orchestrator, athena: Any, progression: Callable[[dict[str, Any]], None]
) -> None:
    progression({"progression": "time", "seconds": 2})  # one state every 2 s, when described
    before = query_ids(athena)
    arn = start(orchestrator.sfn, query_machine(unique_query()))
    deadline = time.monotonic() + 10
    while "TaskSubmitted" not in [e["type"] for e in history(orchestrator.sfn, arn)]:
        assert time.monotonic() < deadline, orchestrator.logs()
        time.sleep(0.05)
    time.sleep(0.5)  # a poll or two made; the next one waits in a delay queue
    orchestrator.kill()
    [ran] = query_ids(athena) - before
    assert state_of(athena, ran) != "SUCCEEDED"  # the job outlives the first process
    orchestrator.start()
    described = wait_done(orchestrator.sfn, arn)
    assert described["status"] == "SUCCEEDED", orchestrator.logs()
    assert query_ids(athena) - before == {ran}  # started once
    assert json.loads(described["output"])["QueryExecution"]["QueryExecutionId"] == ran
    types = [event["type"] for event in history(orchestrator.sfn, arn)]
    assert types.count("TaskSubmitted") == types.count("TaskSucceeded") == 1


def test_a_call_that_is_not_one_is_dead_lettered_with_its_reason(
    orchestrator: Orchestrator, amqp_url: str
) -> None:
    async def publish_and_take_dead_letter() -> aio_pika.abc.AbstractIncomingMessage:
        connection = await aio_pika.connect(amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            await Topology(channel).work_queue(CALLS_QUEUE)
            dead = await channel.get_queue(CALLS_QUEUE + DEAD_LETTER_SUFFIX)
            await channel.default_exchange.publish(
                aio_pika.Message(b'{"kind": "jobPoll", "polls": 1}'), routing_key=CALLS_QUEUE
            )
            for _ in range(100):
                message = await dead.get(no_ack=True, fail=False)
                if message is not None:
                    return message
                await asyncio.sleep(0.05)
            raise AssertionError("nothing was dead-lettered")
        finally:
            await connection.close()

    message = asyncio.run(publish_and_take_dead_letter())
    assert message.body == b'{"kind": "jobPoll", "polls": 1}'
    reason = str(message.headers[REASON_HEADER])
    assert reason.startswith("body is not an IntegrationRequest or a JobPoll")
    assert "request" in reason  # the JobPoll's missing field


@pytest.mark.parametrize("value", ["fast", "0", "0.01", "7200", "nan"])
def test_a_bad_poll_setting_stops_the_start(value: str, tmp_path: Path) -> None:
    env = {**os.environ, "SFN_JOB_POLL_SECONDS": value, "AMQP_URL": "amqp://127.0.0.1:1/"}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--db", str(tmp_path / "sfn.db")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert f"SFN_JOB_POLL_SECONDS must be seconds from 0.05 to 3600, not '{value}'" in done.stderr
