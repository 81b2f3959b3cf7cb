"""A task whose function nobody serves is never a silent hang.

On the real broker with a real orchestrator process: the queue gauges of /metrics follow the
broker, a function with tasks waiting and no worker is logged within seconds, the opt-in AWS
behaviour fails such tasks with Lambda.ResourceNotFoundException, and a lambda:invoke of a
function that has no queue at all fails at once with the same error.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from broker import INTAKE_QUEUE, Topology
from messages.executions import EXECUTION_NAME_HEADER, STATE_MACHINE_HEADER
from tests.integration.amqp import purge_function_queues
from tests.processes import REPO, Service, start, start_orchestrator

pytestmark = pytest.mark.integration
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
DEFINITIONS: dict[str, dict[str, Any]] = {
    # A misspelt function: its queue is declared, no worker ever consumes it.
    "Misspelt": {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA + "ItemFunctoin", "End": True}},
    },
    # A function with a worker (when the test starts one).
    "Served": {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA + "ItemFunction", "End": True}},
    },
    # A function named at run time that no worker ever served: no queue exists for it.
    "Dynamic": {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName.$": "$.function", "Payload.$": "$"},
                "End": True,
            }
        },
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_definitions(tmp: Path) -> Path:
    folder = tmp / "definitions"
    folder.mkdir()
    for name, document in DEFINITIONS.items():
        (folder / f"{name}.asl.json").write_text(json.dumps(document))
    return folder


async def run(
    url: str, machine: str, data: dict[str, Any], wait: float, name: str | None = None
) -> dict[str, Any]:
    """Start an execution through ``intake`` and wait for its result."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(INTAKE_QUEUE)
        replies = await channel.declare_queue("", exclusive=True)
        name = name or f"{machine}-{time.time_ns()}"
        await channel.default_exchange.publish(
            aio_pika.Message(
                json.dumps(data).encode(),
                headers={STATE_MACHINE_HEADER: machine, EXECUTION_NAME_HEADER: name},
                reply_to=replies.name,
            ),
            routing_key=INTAKE_QUEUE,
        )
        async with asyncio.timeout(wait), replies.iterator() as messages:
            async for message in messages:
                await message.ack()
                result: dict[str, Any] = json.loads(message.body)
                return result
        raise AssertionError("no result")
    finally:
        await connection.close()


def gauge(port: int, metric: str, queue: str) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    match = re.search(rf'^{metric}{{queue="{re.escape(queue)}"}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.fixture
def env(amqp_url: str) -> Iterator[dict[str, str]]:
    async def purge() -> None:
        connection = await aio_pika.connect(amqp_url)
        await purge_function_queues(await connection.channel(), ["ItemFunctoin", "ItemFunction"])
        await connection.close()

    asyncio.run(purge())
    yield {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}


def test_an_unserved_function_is_logged_and_counted_within_seconds(
    env: dict[str, str], tmp_path: Path, amqp_url: str
) -> None:
    port = free_port()
    service = start_orchestrator(
        env, tmp_path, tmp_path / "sfn.db", write_definitions(tmp_path), api_port=port
    )
    worker: Service | None = None
    try:
        name = f"waiting-{time.time_ns()}"
        with pytest.raises(TimeoutError):
            asyncio.run(run(amqp_url, "Misspelt", {"n": 1}, wait=1, name=name))
        service.wait_for("function ItemFunctoin has no worker", timeout=8)
        assert "1 task(s) wait on queue lambda.ItemFunctoin" in service.output()
        # The execution's description says what it waits for.
        db = str(tmp_path / "sfn.db")
        described = subprocess.run(
            [sys.executable, "-m", "orchestrator", "describe", name, "--db", db],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert json.loads(described.stdout)["status"] == "RUNNING"
        assert "note: state 'T' waits for function ItemFunctoin, and no worker has consumed" in (
            described.stderr
        )
        deadline = time.monotonic() + 8
        while gauge(port, "sfn_queue_messages", "lambda.ItemFunctoin") != 1.0:
            assert time.monotonic() < deadline, "the queue gauge did not follow the broker"
            time.sleep(0.3)
        assert gauge(port, "sfn_queue_consumers", "lambda.ItemFunctoin") == 0.0
        assert gauge(port, "sfn_queue_consumers", "lambda.ItemFunction") == 0.0
        # A worker of the other function starts: its consumers gauge follows the broker.
        worker = start(
            "worker",
            ["workers", "ItemFunction", "--import", "tests.fixtures.functions"],
            env,
            tmp_path,
        )
        worker.wait_for("started ")
        deadline = time.monotonic() + 8
        while gauge(port, "sfn_queue_consumers", "lambda.ItemFunction") != 1.0:
            assert time.monotonic() < deadline, "the consumers gauge did not follow the broker"
            time.sleep(0.3)
    finally:
        if worker is not None:
            worker.stop()
        service.stop()


def test_aws_behaviour_fails_the_task_with_resource_not_found(
    env: dict[str, str], tmp_path: Path, amqp_url: str
) -> None:
    env = {**env, "SFN_MISSING_FUNCTION": "fail", "SFN_MISSING_FUNCTION_SECONDS": "1"}
    service = start_orchestrator(env, tmp_path, tmp_path / "sfn.db", write_definitions(tmp_path))
    try:
        result = asyncio.run(run(amqp_url, "Misspelt", {"n": 1}, wait=15))
        assert result["status"] == "FAILED"
        assert result["error"] == "Lambda.ResourceNotFoundException"
        assert result["cause"].startswith(
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ItemFunctoin"
        )
    finally:
        service.stop()


def test_invoking_a_function_that_has_no_queue_fails_at_once(
    env: dict[str, str], tmp_path: Path, amqp_url: str
) -> None:
    service = start_orchestrator(env, tmp_path, tmp_path / "sfn.db", write_definitions(tmp_path))
    try:
        started = time.monotonic()
        result = asyncio.run(
            run(amqp_url, "Dynamic", {"function": f"Nobody{time.time_ns()}"}, wait=10)
        )
        assert time.monotonic() - started < 5
        assert result["status"] == "FAILED"
        assert result["error"] == "Lambda.ResourceNotFoundException"
        assert ":function:Nobody" in result["cause"]
        assert "queue lambda. " not in service.output()
    finally:
        service.stop()
