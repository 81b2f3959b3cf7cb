"""The services' consumer on a real broker: what a Delivery carries, how it settles, and that
the consumer comes back after its channel closes or its queue is deleted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from broker import Delivery, consume
from broker.deliveries import Consumer

pytestmark = pytest.mark.integration


@pytest.fixture
async def channel(
    amqp_connection: AbstractRobustConnection,
) -> AsyncIterator[AbstractRobustChannel]:
    """A robust channel with publisher confirms, as the services open it."""
    opened = await amqp_connection.channel(publisher_confirms=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def queue_name(channel: AbstractRobustChannel) -> AsyncIterator[str]:
    """A private quorum queue, declared on ``channel`` (so that it restores it)."""
    name = f"deliveries-test-{uuid.uuid4().hex[:12]}"
    await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    try:
        yield name
    finally:
        await channel.queue_delete(name, if_unused=False, if_empty=False)


async def until(condition: object, seconds: float = 10.0) -> None:
    """Wait until ``condition()`` is true, or fail."""
    assert callable(condition)
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true after {seconds} s")


async def publish(channel: AbstractRobustChannel, queue: str, body: bytes) -> None:
    await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


async def left_in(channel: AbstractRobustChannel, queue: str) -> list[bytes]:
    """Take what is ready in ``queue`` (acked on the way)."""
    declared = await channel.get_queue(queue, ensure=False)
    bodies = []
    while (message := await declared.get(no_ack=True, fail=False)) is not None:
        bodies.append(message.body)
    return bodies


async def test_a_delivery_carries_the_properties_it_was_sent_with(
    channel: AbstractRobustChannel, queue_name: str
) -> None:
    got: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        got.append(delivery)

    sent_at = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    message = aio_pika.Message(
        b'{"a": 1}',
        headers={"x-case": "42"},
        content_type="application/json",
        correlation_id="corr-1",
        reply_to="replies",
        message_id="msg-1",
        timestamp=sent_at,
        type="case",
        app_id="tests",
        priority=3,
    )
    await channel.default_exchange.publish(message, routing_key=queue_name)
    consumer = await consume(channel, queue_name, take)
    await until(lambda: len(got) == 1)
    delivery = got[0]
    assert delivery.body == b'{"a": 1}'
    assert delivery.headers == {"x-case": "42"}
    assert (delivery.content_type, delivery.correlation_id) == ("application/json", "corr-1")
    assert (delivery.reply_to, delivery.message_id) == ("replies", "msg-1")
    assert delivery.timestamp is not None and delivery.timestamp.timestamp() == sent_at.timestamp()
    assert (delivery.type, delivery.app_id, delivery.priority) == ("case", "tests", 3)
    assert delivery.redelivered is False and delivery.delivery_tag == 1
    await consumer.cancel()


async def test_ack_settles_and_nack_hands_back(
    channel: AbstractRobustChannel, queue_name: str
) -> None:
    got: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        got.append(delivery)

    for body in (b"0", b"1", b"2"):
        await publish(channel, queue_name, body)
    consumer = await consume(channel, queue_name, take)
    await until(lambda: len(got) == 3)
    await got[1].ack(multiple=True)  # settles 0 and 1
    await got[2].nack(requeue=True)  # comes back, redelivered
    await until(lambda: len(got) == 4)
    assert got[3].body == b"2" and got[3].redelivered is True
    await got[3].ack()
    await consumer.cancel()
    assert await left_in(channel, queue_name) == []


async def test_cancel_stops_the_deliveries(channel: AbstractRobustChannel, queue_name: str) -> None:
    got: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        got.append(delivery)
        await delivery.ack()

    consumer = await consume(channel, queue_name, take)
    await publish(channel, queue_name, b"before")
    await until(lambda: len(got) == 1)
    await consumer.cancel()
    await publish(channel, queue_name, b"after")
    await asyncio.sleep(0.3)
    assert [d.body for d in got] == [b"before"]
    assert await left_in(channel, queue_name) == [b"after"]


async def consuming(channel: AbstractRobustChannel, queue: str) -> tuple[Consumer, list[bytes]]:
    """A consumer that acks and records every body it gets."""
    bodies: list[bytes] = []

    async def take(delivery: Delivery) -> None:
        bodies.append(delivery.body)
        await delivery.ack()

    return await consume(channel, queue, take), bodies


async def test_the_consumer_comes_back_when_its_channel_reopens(
    channel: AbstractRobustChannel, queue_name: str
) -> None:
    consumer, bodies = await consuming(channel, queue_name)
    await publish(channel, queue_name, b"first")
    await until(lambda: bodies == [b"first"])
    underlay = await channel.get_underlay_channel()
    await underlay.close()  # as a channel error would: the robust channel opens a new one
    await until(lambda: not channel.is_closed)
    await publish(channel, queue_name, b"second")
    await until(lambda: bodies == [b"first", b"second"])
    await consumer.cancel()


async def test_a_consumer_whose_queue_is_deleted_declares_it_again_and_consumes(
    amqp_connection: AbstractRobustConnection, channel: AbstractRobustChannel, queue_name: str
) -> None:
    consumer, bodies = await consuming(channel, queue_name)
    await publish(channel, queue_name, b"first")
    await until(lambda: bodies == [b"first"])
    admin = await amqp_connection.channel()
    await admin.queue_delete(queue_name, if_unused=False, if_empty=False)
    # The broker cancels the consumer; it makes the channel reopen, which declares the queue.
    for _ in range(500):
        try:
            await admin.declare_queue(queue_name, passive=True)
            break
        except aio_pika.exceptions.ChannelNotFoundEntity:
            admin = await amqp_connection.channel()
            await asyncio.sleep(0.02)
    await publish(channel, queue_name, b"second")
    await until(lambda: bodies == [b"first", b"second"])
    await consumer.cancel()
    await admin.close()
