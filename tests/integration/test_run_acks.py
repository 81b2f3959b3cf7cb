"""RunAcks on a real broker: a run is acked with one frame, an unsettled delivery holds back
the ones after it, and a dropped (nacked) one is not acked with a run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from broker import Delivery, consume
from orchestrator.service.acks import RunAcks

pytestmark = pytest.mark.integration


@pytest.fixture
async def queue(amqp_connection: AbstractRobustConnection) -> AsyncIterator[AbstractQueue]:
    """A private quorum queue holding messages 0..5."""
    channel = await amqp_connection.channel()
    name = f"run-acks-test-{uuid.uuid4().hex[:12]}"
    declared = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    for n in range(6):
        await channel.default_exchange.publish(aio_pika.Message(str(n).encode()), name)
    try:
        yield declared
    finally:
        await declared.delete(if_unused=False, if_empty=False)


async def deliveries(
    connection: AbstractRobustConnection, name: str, count: int, acks: RunAcks | None = None
) -> tuple[aio_pika.abc.AbstractChannel, list[Delivery], RunAcks]:
    """A new channel, ``count`` deliveries of queue ``name`` on it (unacked, through the
    service's consumer), and a RunAcks that registered them in delivery order."""
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=count)
    got: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        got.append(delivery)

    consumer = await consume(channel, name, take)
    for _ in range(250):
        if len(got) >= count:
            break
        await asyncio.sleep(0.02)
    await consumer.cancel()
    assert len(got) == count, f"{len(got)} of {count} deliveries arrived"
    acks = acks or RunAcks()
    for message in got:
        acks.received(message)
    return channel, got, acks


async def ready_after_close(
    connection: AbstractRobustConnection, name: str, channel: aio_pika.abc.AbstractChannel
) -> list[str]:
    """Close ``channel`` (unacked deliveries go back) and read what is in the queue."""
    await channel.close()
    reader = await connection.channel()
    queue = await reader.get_queue(name)
    bodies: list[str] = []
    for _ in range(50):
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            if bodies:
                break
            await asyncio.sleep(0.05)
            continue
        bodies.append(message.body.decode())
    await reader.close()
    return sorted(bodies)


async def test_only_the_settled_run_at_the_front_is_acked(
    amqp_connection: AbstractRobustConnection, queue: AbstractQueue
) -> None:
    channel, got, acks = await deliveries(amqp_connection, queue.name, 6)
    await acks.ack([got[1], got[2]])  # 0 is not settled: 1 and 2 wait for it
    assert acks.pending() == 6
    await acks.ack([got[0]])  # 0, 1, 2 acked with one frame
    assert acks.pending() == 3
    acks.dropped(got[3])
    await got[3].nack(requeue=True)
    await acks.ack([got[5]])  # 3 dropped, 4 not settled: 5 waits
    assert acks.pending() == 2
    # 4 and 5 were never acked, 3 was requeued: those three are in the queue again.
    assert await ready_after_close(amqp_connection, queue.name, channel) == ["3", "4", "5"]


async def test_settling_everything_in_any_order_acks_everything(
    amqp_connection: AbstractRobustConnection, queue: AbstractQueue
) -> None:
    channel, got, acks = await deliveries(amqp_connection, queue.name, 6)
    for index in (4, 2, 5, 0, 3, 1):
        await acks.ack([got[index]])
    assert acks.pending() == 0
    assert await ready_after_close(amqp_connection, queue.name, channel) == []


async def test_a_held_run_is_acked_after_the_delay(
    amqp_connection: AbstractRobustConnection, queue: AbstractQueue
) -> None:
    held = RunAcks(delay=0.2, max_held=100)
    channel, got, acks = await deliveries(amqp_connection, queue.name, 6, held)
    await acks.ack(got[:2])
    await acks.ack(got[2:4])
    assert acks.pending() == 6  # settled, held for one ack
    await asyncio.sleep(0.5)
    assert acks.pending() == 2  # 0-3 acked together when the delay ran out
    assert await ready_after_close(amqp_connection, queue.name, channel) == ["4", "5"]


async def test_holding_max_held_acks_at_once(
    amqp_connection: AbstractRobustConnection, queue: AbstractQueue
) -> None:
    held = RunAcks(delay=60.0, max_held=3)
    channel, got, acks = await deliveries(amqp_connection, queue.name, 6, held)
    await acks.ack(got[:2])
    assert acks.pending() == 6
    await acks.ack([got[2]])  # the third held: acked now, not in a minute
    assert acks.pending() == 3
    await acks.ack([got[3]])
    await acks.flush()  # a stopping service acks what it holds
    assert acks.pending() == 2
    assert await ready_after_close(amqp_connection, queue.name, channel) == ["4", "5"]
