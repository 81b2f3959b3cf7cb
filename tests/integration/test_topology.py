"""The topology on the real broker: a message whose consumer keeps failing is dead-lettered."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest

from broker import DEAD_LETTER_SUFFIX, Topology
from broker.topology import DELIVERY_LIMIT
from orchestrator.cli.dead_letters import list_dead_letters

pytestmark = pytest.mark.integration


async def test_a_message_redelivered_past_the_limit_lands_in_the_dead_letter_queue(
    amqp_url: str,
) -> None:
    name = f"test.poison.{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await Topology(channel).work_queue(name)
        await channel.default_exchange.publish(
            aio_pika.Message(b"poison", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=name,
        )
        deliveries = 0
        for _ in range(DELIVERY_LIMIT + 5):  # a consumer that fails on it every time
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                if (await queue.declare()).message_count == 0:
                    break
                continue
            deliveries += 1
            await message.nack(requeue=True)
        assert deliveries == DELIVERY_LIMIT + 1, "the broker gave up after the limit"
        letters = await list_dead_letters(amqp_url, [name])
        assert [letter.body for letter in letters] == [b"poison"]
        assert "delivery_limit" in letters[0].reason
    finally:
        await channel.queue_delete(name)
        await channel.queue_delete(name + DEAD_LETTER_SUFFIX)
        await connection.close()
