"""The services' consumer on a real broker: what a Delivery carries, how it settles, and that
the consumer comes back after its channel closes or its queue is deleted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from broker import Delivery, consume
from broker.deliveries import Consumer
from tests.integration.amqp import take_ready

pytestmark = pytest.mark.integration


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


async def test_a_delivery_carries_the_properties_it_was_sent_with(
    confirm_channel: AbstractRobustChannel, private_queue: str
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
    await confirm_channel.default_exchange.publish(message, routing_key=private_queue)
    consumer = await consume(confirm_channel, private_queue, take)
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
    confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    got: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        got.append(delivery)

    for body in (b"0", b"1", b"2"):
        await publish(confirm_channel, private_queue, body)
    consumer = await consume(confirm_channel, private_queue, take)
    await until(lambda: len(got) == 3)
    await got[1].ack(multiple=True)  # settles 0 and 1
    await got[2].nack(requeue=True)  # comes back, redelivered
    await until(lambda: len(got) == 4)
    assert got[3].body == b"2" and got[3].redelivered is True
    await got[3].ack()
    await consumer.cancel()
    assert await take_ready(confirm_channel, private_queue) == []


async def test_cancel_stops_the_deliveries(
    confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    got: list[Delivery] = []

    async def take(delivery: Delivery) -> None:
        got.append(delivery)
        await delivery.ack()

    consumer = await consume(confirm_channel, private_queue, take)
    await publish(confirm_channel, private_queue, b"before")
    await until(lambda: len(got) == 1)
    await consumer.cancel()
    await publish(confirm_channel, private_queue, b"after")
    await asyncio.sleep(0.3)
    assert [d.body for d in got] == [b"before"]
    assert await take_ready(confirm_channel, private_queue) == [b"after"]


async def consuming(channel: AbstractRobustChannel, queue: str) -> tuple[Consumer, list[bytes]]:
    """A consumer that acks and records every body it gets."""
    bodies: list[bytes] = []

    async def take(delivery: Delivery) -> None:
        bodies.append(delivery.body)
        await delivery.ack()

    return await consume(channel, queue, take), bodies


async def test_the_consumer_comes_back_when_its_channel_reopens(
    confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    consumer, bodies = await consuming(confirm_channel, private_queue)
    await publish(confirm_channel, private_queue, b"first")
    await until(lambda: bodies == [b"first"])
    underlay = await confirm_channel.get_underlay_channel()
    await underlay.close()  # as a channel error would: the robust channel opens a new one
    await until(lambda: not confirm_channel.is_closed)
    await publish(confirm_channel, private_queue, b"second")
    await until(lambda: bodies == [b"first", b"second"])
    await consumer.cancel()


async def test_a_consumer_whose_queue_is_deleted_declares_it_again_and_consumes(
    amqp_connection: AbstractRobustConnection,
    confirm_channel: AbstractRobustChannel,
    private_queue: str,
) -> None:
    consumer, bodies = await consuming(confirm_channel, private_queue)
    await publish(confirm_channel, private_queue, b"first")
    await until(lambda: bodies == [b"first"])
    admin = await amqp_connection.channel()
    await admin.queue_delete(private_queue, if_unused=False, if_empty=False)
    # The broker cancels the consumer; it makes the channel reopen, which declares the queue.
    for _ in range(500):
        try:
            await admin.declare_queue(private_queue, passive=True)
            break
        except aio_pika.exceptions.ChannelNotFoundEntity:
            admin = await amqp_connection.channel()
            await asyncio.sleep(0.02)
    await publish(confirm_channel, private_queue, b"second")
    await until(lambda: bodies == [b"first", b"second"])
    await consumer.cancel()
    await admin.close()
