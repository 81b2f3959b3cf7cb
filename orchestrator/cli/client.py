"""A client of the service: start an execution through ``intake``, send task callbacks, stop.

Each request that expects an answer carries ``reply_to`` (an exclusive queue of the client's
own, so the service's durable queues are unaffected when the client goes away) and a fresh
``correlation_id``; the service answers there: the execution result or
:class:`messages.StartRefused` for a start, :class:`messages.CallbackOutcome` for a callback.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from pydantic import ValidationError

from broker import CONTROL_QUEUE, INTAKE_QUEUE, TASK_RESULTS_QUEUE, Topology, connect
from messages import (
    CallbackOutcome,
    StartRefused,
    StopExecutionRequest,
    TaskCallbackFailure,
    TaskCallbackHeartbeat,
    TaskCallbackSuccess,
)
from messages.executions import EXECUTION_NAME_HEADER, STATE_MACHINE_HEADER

# How long a command waits for the broker itself before giving up (it says so once a period).
CONNECT_SECONDS = 10.0
Callback = TaskCallbackSuccess | TaskCallbackFailure | TaskCallbackHeartbeat


class StartRefusedError(Exception):
    """The service started nothing; ``refused`` says why, with AWS's error name."""

    def __init__(self, refused: StartRefused) -> None:
        super().__init__(f"{refused.error}: {refused.cause}")
        self.refused = refused


async def submit(
    execution_input: dict[str, Any],
    *,
    url: str,
    execution_name: str,
    state_machine: str | None = None,
    timeout: float = 60.0,
    connect_seconds: float = CONNECT_SECONDS,
) -> dict[str, Any]:
    """Publish ``execution_input`` to ``intake`` and return the execution result it gets.

    Raises :class:`StartRefusedError` when the service refuses the start,
    ``TimeoutError`` when no answer comes within ``timeout`` seconds (the execution may
    still be running) and ``broker.connection.BrokerUnreachable``.
    """
    headers: dict[str, Any] = {EXECUTION_NAME_HEADER: execution_name}
    if state_machine:
        headers[STATE_MACHINE_HEADER] = state_machine
    body = json.dumps(execution_input).encode()
    answer = await _ask(
        url,
        INTAKE_QUEUE,
        body,
        headers=headers,
        message_id=execution_name,
        timeout=timeout,
        connect_seconds=connect_seconds,
    )
    document = json.loads(answer)
    if isinstance(document, dict) and document.get("status") == "REFUSED":
        raise StartRefusedError(_refusal(document))
    if not isinstance(document, dict):
        raise ValueError(f"the service answered with {type(document).__name__}, not an object")
    return document


async def send_callback(
    callback: Callback,
    *,
    url: str,
    timeout: float = 30.0,
    connect_seconds: float = CONNECT_SECONDS,
) -> CallbackOutcome:
    """Publish SendTaskSuccess/Failure/Heartbeat for a task token and return the service's
    answer: ACCEPTED, or REFUSED with AWS's error (``TaskDoesNotExist``, ...).

    Raises ``TimeoutError`` when no answer comes within ``timeout`` seconds (the callback
    stays queued and applies once the service takes it).
    """
    answer = await _ask(
        url,
        TASK_RESULTS_QUEUE,
        callback.to_wire(),
        timeout=timeout,
        connect_seconds=connect_seconds,
    )
    try:
        return CallbackOutcome.from_wire(answer)
    except ValidationError:  # a newer service's answer: keep what this client knows
        document = json.loads(answer)
        return CallbackOutcome(
            status="ACCEPTED" if document.get("status") == "ACCEPTED" else "REFUSED",
            task_token=callback.task_token,
            error=document.get("error"),
            cause=document.get("cause"),
        )


async def send_control(
    request: StopExecutionRequest, *, url: str, connect_seconds: float = CONNECT_SECONDS
) -> None:
    """Publish a control request (StopExecution) to the service (confirmed by the broker)."""
    connection = await connect(url, wait_seconds=connect_seconds)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(CONTROL_QUEUE)
        await channel.default_exchange.publish(
            _message(request.to_wire(), {}, None, None, None), routing_key=CONTROL_QUEUE
        )
    finally:
        await connection.close()


async def _ask(
    url: str,
    queue: str,
    body: bytes,
    *,
    headers: dict[str, Any] | None = None,
    message_id: str | None = None,
    timeout: float,
    connect_seconds: float,
) -> bytes:
    """Publish ``body`` to ``queue`` (persistent, confirmed) and return the first answer
    that carries its correlation id."""
    connection: AbstractRobustConnection = await connect(url, wait_seconds=connect_seconds)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(queue)  # routed even before the service ran
        replies = await channel.declare_queue("", exclusive=True)
        correlation_id = str(uuid.uuid4())
        # Consuming before publishing, and the timeout only on the wait: a short timeout
        # must not cut the broker's consume call in half.
        async with replies.iterator() as messages:
            await channel.default_exchange.publish(
                _message(body, headers or {}, replies.name, correlation_id, message_id),
                routing_key=queue,
            )
            async with asyncio.timeout(timeout):
                async for message in messages:
                    await message.ack()
                    if message.correlation_id == correlation_id:
                        return message.body
        raise TimeoutError("the reply queue closed before the answer came")
    finally:
        await connection.close()


def _message(
    body: bytes,
    headers: dict[str, Any],
    reply_to: str | None,
    correlation_id: str | None,
    message_id: str | None,
) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type="application/json",
        headers=headers,
        reply_to=reply_to,
        correlation_id=correlation_id,
        message_id=message_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


def _refusal(document: dict[str, Any]) -> StartRefused:
    """The refusal, read leniently: a newer service may add fields this client does not know."""
    try:
        return StartRefused.model_validate(document)
    except ValidationError:
        return StartRefused(
            error=str(document.get("error") or "Refused"),
            cause=str(document.get("cause") or json.dumps(document)),
        )
