"""A client of the service: publish one case request to ``intake`` and wait for its result."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika

from broker import CONTROL_QUEUE, INTAKE_QUEUE, TASK_RESULTS_QUEUE, Topology, connect
from messages import (
    StopExecutionRequest,
    TaskCallbackFailure,
    TaskCallbackHeartbeat,
    TaskCallbackSuccess,
    WireModel,
)
from messages.executions import EXECUTION_NAME_HEADER, STATE_MACHINE_HEADER


async def submit(
    execution_input: dict[str, Any],
    *,
    url: str,
    state_machine: str | None = None,
    execution_name: str | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Publish ``execution_input`` to ``intake`` and return the execution result it gets.

    The reply queue is the client's own (exclusive): the service's durable queues are
    unaffected when the client goes away. Raises ``TimeoutError`` when no result comes.
    """
    connection = await connect(url, wait_seconds=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(INTAKE_QUEUE)  # routed even before the service ran
        replies = await channel.declare_queue("", exclusive=True)
        correlation_id = str(uuid.uuid4())
        headers: dict[str, Any] = {}
        if state_machine:
            headers[STATE_MACHINE_HEADER] = state_machine
        if execution_name:
            headers[EXECUTION_NAME_HEADER] = execution_name
        await channel.default_exchange.publish(
            aio_pika.Message(
                json.dumps(execution_input).encode(),
                content_type="application/json",
                headers=headers,
                reply_to=replies.name,
                correlation_id=correlation_id,
                message_id=execution_name or correlation_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=INTAKE_QUEUE,
        )
        async with asyncio.timeout(timeout), replies.iterator() as messages:
            async for message in messages:
                await message.ack()
                if message.correlation_id == correlation_id:
                    result: dict[str, Any] = json.loads(message.body)
                    return result
        raise TimeoutError("the reply queue closed before the result came")
    finally:
        await connection.close()


async def send_callback(
    callback: TaskCallbackSuccess | TaskCallbackFailure | TaskCallbackHeartbeat, *, url: str
) -> None:
    """Publish SendTaskSuccess/Failure/Heartbeat for a task token (confirmed by the broker)."""
    await _send(callback, TASK_RESULTS_QUEUE, url, correlation_id=callback.task_token)


async def send_control(request: StopExecutionRequest, *, url: str) -> None:
    """Publish a control request (StopExecution) to the service (confirmed by the broker)."""
    await _send(request, CONTROL_QUEUE, url)


async def _send(
    message: WireModel, queue: str, url: str, correlation_id: str | None = None
) -> None:
    connection = await connect(url, wait_seconds=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(queue)
        await channel.default_exchange.publish(
            aio_pika.Message(
                message.to_wire(),
                content_type="application/json",
                correlation_id=correlation_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=queue,
        )
    finally:
        await connection.close()
