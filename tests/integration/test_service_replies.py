"""The service answers an asker at once when its start or callback does nothing.

A start that is refused (unknown state machine, a name taken with another input, a body
that is not a JSON object) and a callback for a task that is not waiting for one are
answered on ``reply_to`` with AWS's error, besides being dead-lettered or dropped; a callback
that applies is answered ACCEPTED in the same commit as its step.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from broker import INTAKE_QUEUE, TASK_RESULTS_QUEUE
from messages.executions import EXECUTION_NAME_HEADER, STATE_MACHINE_HEADER
from orchestrator.cli.dead_letters import list_dead_letters
from tests.integration.token_stack import approval, token_stack

pytestmark = pytest.mark.integration

APPROVAL = approval()


@pytest.fixture(scope="module")
def service(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The orchestrator on the Approval machine and the TokenRecorder worker."""
    tmp = tmp_path_factory.mktemp("replies")
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    asyncio.run(_purge_dead_letters(amqp_url))
    with token_stack(env, tmp, {"Approval": APPROVAL}):
        yield tmp


async def _purge_dead_letters(url: str) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    for queue in (INTAKE_QUEUE + ".dead-letter", TASK_RESULTS_QUEUE + ".dead-letter"):
        declared = await channel.declare_queue(
            queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await declared.purge()
    await connection.close()


async def ask(
    url: str, queue: str, body: bytes, headers: dict[str, Any] | None = None, wait: float = 15
) -> list[dict[str, Any]]:
    """Publish ``body`` to ``queue`` with a reply queue; the first answer (in a list), waiting
    at most ``wait`` seconds."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        replies = await channel.declare_queue("", exclusive=True)
        correlation_id = f"ask-{time.time_ns()}"
        await channel.default_exchange.publish(
            aio_pika.Message(
                body, headers=headers or {}, reply_to=replies.name, correlation_id=correlation_id
            ),
            routing_key=queue,
        )
        answers: list[dict[str, Any]] = []
        async with asyncio.timeout(wait), replies.iterator() as messages:
            async for message in messages:
                await message.ack()
                assert message.correlation_id == correlation_id
                answers.append(json.loads(message.body))
                break
        return answers
    finally:
        await connection.close()


def test_an_unknown_state_machine_is_answered_and_dead_lettered(
    service: Path, amqp_url: str
) -> None:
    started = time.monotonic()
    [answer] = asyncio.run(
        ask(amqp_url, INTAKE_QUEUE, b"{}", {STATE_MACHINE_HEADER: "NoSuchMachine"})
    )
    assert time.monotonic() - started < 10
    assert answer["status"] == "REFUSED"
    assert answer["error"] == "StateMachineDoesNotExist"
    assert "NoSuchMachine" in answer["cause"]
    assert answer["stateMachine"] == "NoSuchMachine"
    letters = asyncio.run(list_dead_letters(amqp_url, [INTAKE_QUEUE]))
    assert any("NoSuchMachine" in letter.reason for letter in letters)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}", "levels deep"),
    ],
)
def test_an_unusable_start_is_answered_invalid_input(
    service: Path, amqp_url: str, body: bytes, words: str
) -> None:
    [answer] = asyncio.run(ask(amqp_url, INTAKE_QUEUE, body))
    assert answer["status"] == "REFUSED"
    assert answer["error"] == "InvalidExecutionInput"
    assert words in answer["cause"]


def test_a_name_taken_with_another_input_is_answered_with_its_arn(
    service: Path, amqp_url: str
) -> None:
    name = f"taken-{time.time_ns()}"
    headers = {STATE_MACHINE_HEADER: "Approval", EXECUTION_NAME_HEADER: name}
    first = json.dumps({"file": str(service / f"{name}.token")}).encode()
    # The first start runs (it waits for its callback); the reply only comes when it ends.
    with pytest.raises(TimeoutError):
        asyncio.run(ask(amqp_url, INTAKE_QUEUE, first, headers, wait=2))
    [answer] = asyncio.run(ask(amqp_url, INTAKE_QUEUE, b'{"other": 1}', headers))
    assert answer["error"] == "ExecutionAlreadyExists"
    assert answer["executionArn"].endswith(f":execution:Approval:{name}")


def test_callbacks_are_answered_accepted_once_then_task_does_not_exist(
    service: Path, amqp_url: str
) -> None:
    name = f"callback-{time.time_ns()}"
    token_file = service / f"{name}.token"

    async def scenario() -> tuple[list[dict[str, Any]], ...]:
        result = asyncio.create_task(
            ask(
                amqp_url,
                INTAKE_QUEUE,
                json.dumps({"file": str(token_file)}).encode(),
                {STATE_MACHINE_HEADER: "Approval", EXECUTION_NAME_HEADER: name},
                wait=30,
            )
        )
        for _ in range(200):
            if token_file.exists() and token_file.read_text():
                break
            await asyncio.sleep(0.1)
        token = token_file.read_text()
        success = json.dumps(
            {"status": "CALLBACK_SUCCESS", "taskToken": token, "output": {"ok": True}}
        ).encode()
        accepted = await ask(amqp_url, TASK_RESULTS_QUEUE, success, wait=5)
        finished = await result
        again = await ask(amqp_url, TASK_RESULTS_QUEUE, success, wait=10)
        unknown = json.dumps({"status": "CALLBACK_HEARTBEAT", "taskToken": "0" * 64}).encode()
        refused = await ask(amqp_url, TASK_RESULTS_QUEUE, unknown, wait=10)
        garbled = await ask(amqp_url, TASK_RESULTS_QUEUE, b'{"taskToken": "x"}', wait=10)
        return accepted, finished, again, refused, garbled

    accepted, finished, again, refused, garbled = asyncio.run(scenario())
    assert accepted == [{"version": 1, "status": "ACCEPTED", "taskToken": accepted[0]["taskToken"]}]
    assert finished[-1]["status"] == "SUCCEEDED" and finished[-1]["output"] == {"ok": True}
    assert again[0]["status"] == "REFUSED" and again[0]["error"] == "TaskDoesNotExist"
    assert refused[0]["error"] == "TaskDoesNotExist"
    assert garbled[0]["error"] == "ValidationException" and garbled[0]["taskToken"] == "x"
