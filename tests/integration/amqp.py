"""Client-side helpers for integration tests: purge the topology, publish cases, collect replies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from broker import (
    CALLS_QUEUE,
    DEAD_LETTER_SUFFIX,
    INTAKE_QUEUE,
    TASK_RESULTS_QUEUE,
    Topology,
    function_queue,
)

FUNCTIONS = (
    "OpenCaseFunction",
    "AssignCaseFunction",
    "WorkOnCaseFunction",
    "CloseCaseFunction",
    "EscalateCaseFunction",
)


async def purge_function_queues(channel: AbstractChannel, functions: Iterable[str]) -> None:
    """Declare the queues of ``functions`` and empty them."""
    topology = Topology(channel)
    for name in functions:
        await (await topology.work_queue(function_queue(name))).purge()


async def purge_topology(channel: AbstractChannel) -> Topology:
    """Declare every queue the call-center stack uses and empty it (and its dead letters)."""
    topology = Topology(channel)
    queues = (
        INTAKE_QUEUE,
        TASK_RESULTS_QUEUE,
        CALLS_QUEUE,
        *(function_queue(f) for f in FUNCTIONS),
    )
    for name in queues:
        queue = await topology.work_queue(name)
        await queue.purge()
        dead = await channel.get_queue(name + DEAD_LETTER_SUFFIX)
        await dead.purge()
    await topology.executions_exchange()
    return topology


async def publish_case(
    channel: AbstractChannel,
    body: bytes | dict[str, Any],
    *,
    reply_to: str | None = None,
    correlation_id: str | None = None,
    headers: dict[str, Any] | None = None,
) -> None:
    """Publish one intake message (persistent, confirmed)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    await channel.default_exchange.publish(
        aio_pika.Message(
            raw,
            reply_to=reply_to,
            correlation_id=correlation_id,
            headers=headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type="application/json",
        ),
        routing_key=INTAKE_QUEUE,
    )


async def collect(
    queue: AbstractQueue, count: int, timeout: float, settle: float = 0.0
) -> list[AbstractIncomingMessage]:
    """Take ``count`` messages (acked) from ``queue``, then anything more arriving within ``settle`` s."""
    got: list[AbstractIncomingMessage] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(got) < count and loop.time() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        got.append(message)
    settle_until = loop.time() + settle
    while loop.time() < settle_until:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.05)
        else:
            got.append(message)
    return got


async def take_ready(channel: AbstractChannel, queue: str) -> list[bytes]:
    """The bodies of every message ready in ``queue`` now (taken, acked on the way)."""
    declared = await channel.get_queue(queue, ensure=False)
    bodies = []
    while (message := await declared.get(no_ack=True, fail=False)) is not None:
        bodies.append(message.body)
    return bodies
