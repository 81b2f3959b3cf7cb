"""EXPRESS executions in memory, on the real broker with real processes.

One orchestrator (API on a free port, waits scaled by WAIT_TIME_SCALE=0.01) and the five
call-center workers. EXPRESS executions run without a durable commit per step (the SQLite
file is not written while they run), the API answers about them as AWS does (recorded by
LocalStack's test_sfn_api_express against AWS), an asynchronous one interrupted by kill -9
runs again after the restart, and AWS's 5-minute limit ends one TIMED_OUT.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from broker import EXECUTIONS_EXCHANGE, INTAKE_QUEUE
from tests.api.test_boto3 import free_port
from tests.integration.amqp import purge_topology
from tests.processes import REPO, WORKER_NAMES, Service, start, start_orchestrator

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/test"
SCALE = 0.01  # WAIT_TIME_SCALE: a 300 s limit lasts 3 s
CALL_CENTER = (REPO / "definitions" / "CallCenterStateMachine.asl.json").read_text()
NOT_HERE = "Invalid Arn: 'Resource type not valid in this context: express'"


class Stack:
    """The orchestrator (restartable on its store) and the call-center workers."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp = env, tmp
        self.db = tmp / "sfn.db"
        self.port = free_port()
        self.services: list[Service] = []
        self.orchestrator = self.start_orchestrator()
        for worker in WORKER_NAMES:
            self.services.append(start(f"worker-{worker}", ["workers", worker], env, tmp))
        self.sfn = boto3.client(
            "stepfunctions",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id="anything",
            aws_secret_access_key="anything",
            config=Config(inject_host_prefix=False),
        )

    def start_orchestrator(self) -> Service:
        name = f"orchestrator-{len(self.services)}"
        service = start_orchestrator(self.env, self.tmp, self.db, name=name, api_port=self.port)
        self.services.append(service)
        return service

    def rows(self, query: str) -> list[Any]:
        with sqlite3.connect(self.db, timeout=30) as connection:
            return connection.execute(query).fetchall()

    def machine(self, prefix: str, definition: str) -> str:
        name = f"{prefix}{uuid.uuid4().hex[:6]}"
        created = self.sfn.create_state_machine(
            name=name, definition=definition, roleArn=ROLE, type="EXPRESS"
        )
        return str(created["stateMachineArn"])


@pytest.fixture(scope="module")
def stack(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("express")
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env["WAIT_TIME_SCALE"] = str(SCALE)
    env.pop("SFN_ACCESS_KEY_ID", None)
    asyncio.run(_purge(amqp_url))
    built = Stack(env, tmp)
    try:
        yield built
    finally:
        for service in built.services:
            service.stop()


async def _purge(url: str) -> None:
    connection = await aio_pika.connect(url)
    await purge_topology(await connection.channel())
    await connection.close()


def refused(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_start_sync_execution_writes_nothing_to_the_store_while_it_runs(stack: Stack) -> None:
    arn = stack.machine("ExpressCalls", CALL_CENTER)
    stack.sfn.start_sync_execution(stateMachineArn=arn, input='{"inputCaseID": "warm"}')
    with sqlite3.connect(stack.db, timeout=30) as watcher:
        # data_version changes when another connection commits a change to the file.
        (before,) = watcher.execute("PRAGMA data_version").fetchone()
        done = [
            stack.sfn.start_sync_execution(
                stateMachineArn=arn, input=json.dumps({"inputCaseID": f"{i:03d}"})
            )
            for i in range(10)
        ]
        (after,) = watcher.execute("PRAGMA data_version").fetchone()
    assert before == after, "an EXPRESS execution wrote to the SQLite file"
    for answer in done:
        assert ":express:" in answer["executionArn"]
        assert answer["status"] in ("SUCCEEDED", "FAILED")
        assert answer["billingDetails"]["billedMemoryUsedInMB"] == 64
        if answer["status"] == "SUCCEEDED":
            assert json.loads(answer["output"])["Status"] == 1
    assert stack.rows("SELECT count(*) FROM executions") == [(0,)]
    assert stack.rows("SELECT count(*) FROM history") == [(0,)]
    assert stack.rows("SELECT count(*) FROM express_starts") == [(0,)]  # at most once


def test_the_api_answers_about_express_executions_as_aws_does(stack: Stack) -> None:
    machine = stack.machine("ExpressApi", CALL_CENTER)
    done = stack.sfn.start_sync_execution(stateMachineArn=machine, input='{"inputCaseID": "1"}')
    arn = done["executionArn"]
    prefix = machine.replace(":stateMachine:", ":express:") + ":" + done["name"] + ":"
    assert arn.startswith(prefix) and len(arn) > len(prefix)  # a run id after the name
    sfn = stack.sfn
    for call in (
        sfn.describe_execution,
        sfn.get_execution_history,
        sfn.stop_execution,
        sfn.describe_state_machine_for_execution,
    ):
        assert refused(call, executionArn=arn) == ("InvalidArn", NOT_HERE)
    assert refused(sfn.list_executions, stateMachineArn=machine) == (
        "StateMachineTypeNotSupported",
        "This operation is not supported by this type of state machine",
    )
    started = sfn.start_execution(stateMachineArn=machine, input='{"inputCaseID": "2"}')
    assert ":express:" in started["executionArn"]
    # Not idempotent for EXPRESS (AWS): a name given again is a new execution.
    again = sfn.start_sync_execution(
        stateMachineArn=machine, name=done["name"], input='{"inputCaseID": "3"}'
    )
    assert again["name"] == done["name"] and again["executionArn"] != arn
    assert again["executionArn"].startswith(prefix)


def test_an_intake_start_of_an_express_machine_runs_in_memory(stack: Stack, amqp_url: str) -> None:
    machine = stack.machine("ExpressIntake", CALL_CENTER).rsplit(":", 1)[-1]

    async def go() -> list[dict[str, Any]]:
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel(publisher_confirms=True)
        replies = await channel.declare_queue(exclusive=True)
        for i in range(5):
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps({"inputCaseID": f"i{i}"}).encode(),
                    headers={"state-machine": machine, "execution-name": f"case-{i}"},
                    reply_to=replies.name,
                    correlation_id=f"c{i}",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=INTAKE_QUEUE,
            )
        found = []
        async with replies.iterator() as messages:
            async for message in messages:
                await message.ack()
                found.append(json.loads(message.body))
                if len(found) == 5:
                    break
        await connection.close()
        return found

    results = asyncio.run(asyncio.wait_for(go(), 60))
    assert sorted(r["name"] for r in results) == [f"case-{i}" for i in range(5)]
    for result in results:
        assert ":express:" in result["executionArn"]
        assert result["status"] in ("SUCCEEDED", "FAILED")
    # Recorded at its start, forgotten at its end; no step reached the file.
    assert stack.rows("SELECT count(*) FROM express_starts") == [(0,)]
    assert stack.rows("SELECT count(*) FROM executions") == [(0,)]


def test_an_express_execution_ends_timed_out_after_five_minutes(stack: Stack) -> None:
    long_wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 400, "End": True}}}
    arn = stack.machine("ExpressLimit", json.dumps(long_wait))
    started = time.monotonic()
    done = stack.sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    took = time.monotonic() - started
    assert (done["status"], done["error"]) == ("TIMED_OUT", "States.Timeout")
    assert 300 * SCALE - 0.5 < took < 400 * SCALE  # the limit, not the Wait, ended it


def test_an_async_express_execution_runs_again_after_kill_9(stack: Stack, amqp_url: str) -> None:
    wait = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 200, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": {"done": True}, "End": True},
        },
    }
    machine = stack.machine("ExpressCrash", json.dumps(wait))
    name = machine.rsplit(":", 1)[-1]

    async def results() -> tuple[aio_pika.abc.AbstractConnection, aio_pika.abc.AbstractQueue]:
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel()
        exchange = await channel.get_exchange(EXECUTIONS_EXCHANGE)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=f"{name}.*")
        return connection, queue

    async def scenario() -> dict[str, Any]:
        connection, queue = await results()
        started = stack.sfn.start_execution(stateMachineArn=machine, input='{"n": 1}')
        arn = started["executionArn"]
        assert stack.rows("SELECT arn FROM express_starts") == [(arn,)]
        stack.orchestrator.process.kill()  # kill -9 while it waits (2 s scaled)
        stack.orchestrator.process.wait()
        stack.orchestrator = await asyncio.to_thread(stack.start_orchestrator)
        message = await queue.get(timeout=30, fail=False)
        deadline = time.monotonic() + 30
        while message is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            message = await queue.get(fail=False)
        assert message is not None, "the execution did not run again"
        await connection.close()
        result: dict[str, Any] = json.loads(message.body)
        assert result["executionArn"] == arn  # the same execution, run again from its start
        return result

    result = asyncio.run(scenario())
    assert (result["status"], result["output"]) == ("SUCCEEDED", {"done": True})
    assert "ran 1 EXPRESS execution(s) again" in stack.orchestrator.output()
    assert stack.rows("SELECT count(*) FROM express_starts") == [(0,)]
