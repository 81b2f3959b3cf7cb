"""``publish_json_many`` on a real broker: several messages in one write, each confirmed,
returned or refused as ``publish_json`` would have it, and the channel's bookkeeping of
delivery tags left as aiormq's own publishes expect it; the batchers of publishes and acks."""

from __future__ import annotations

import asyncio

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aiormq.exceptions import ChannelInvalidStateError

from broker import EXECUTIONS_EXCHANGE
from broker.batching import AckBatcher, PublishBatcher
from broker.deliveries import Delivery
from broker.publishing import PERSISTENT, JsonMessage, _writes, publish_json, publish_json_many

pytestmark = pytest.mark.integration


class WriteCounter:
    """Counts what is queued on ``channel``'s connection for writing (each item is one
    socket write)."""

    def __init__(self, channel: aiormq.Channel) -> None:
        self.count = 0
        put = channel.write_queue.put

        async def counted(item: object) -> None:
            self.count += 1
            await put(item)

        channel.write_queue.put = counted  # type: ignore[method-assign]


async def take_messages(
    channel: AbstractRobustChannel, queue: str
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message ready in ``queue`` now, in order (acked on the way)."""
    declared = await channel.get_queue(queue, ensure=False)
    taken = []
    while (message := await declared.get(no_ack=True, fail=False)) is not None:
        taken.append(message)
    return taken


async def test_a_batch_is_delivered_in_order_with_its_properties(
    confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    await confirm_channel.declare_exchange(EXECUTIONS_EXCHANGE, "topic", durable=True)
    channel = await confirm_channel.get_underlay_channel()
    large = b'"' + b"x" * 300_000 + b'"'  # over the frame size: split into body frames
    batch = [
        JsonMessage(b'{"n": %d}' % n, private_queue, correlation_id=f"c-{n}", reply_to="r")
        for n in range(40)
    ]
    batch.insert(10, JsonMessage(large, private_queue, correlation_id="large"))
    batch.insert(20, JsonMessage(b"{}", "no-such-queue-anywhere"))  # mandatory: returned
    batch.insert(
        30, JsonMessage(b"{}", "nobody.bound", exchange=EXECUTIONS_EXCHANGE, mandatory=False)
    )

    routed = await asyncio.wait_for(publish_json_many(channel, batch), 30)

    assert routed == [message.routing_key != "no-such-queue-anywhere" for message in batch]
    taken = await take_messages(confirm_channel, private_queue)
    expected = [m for m in batch if m.routing_key == private_queue]
    assert [m.body for m in taken] == [m.body for m in expected]
    assert [m.correlation_id for m in taken] == [m.correlation_id for m in expected]
    assert all(m.delivery_mode == PERSISTENT for m in taken)
    assert all(m.content_type == "application/json" for m in taken)
    assert taken[0].reply_to == "r"
    # Every tag settled and forgotten, as aiormq's own publishes leave the channel.
    assert channel.confirmations == {}
    assert channel.message_id_delivery_tag == {}


async def test_batches_and_single_publishes_share_a_channel(
    confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    channel = await confirm_channel.get_underlay_channel()

    async def batch(k: int) -> list[bool]:
        messages = [JsonMessage(b'"b%d-%d"' % (k, n), private_queue) for n in range(7)]
        return await publish_json_many(channel, messages)

    async def single(k: int) -> bool:
        return await publish_json(channel, b'"s%d"' % k, routing_key=private_queue)

    outcomes = await asyncio.wait_for(
        asyncio.gather(*(batch(k) if k % 2 else single(k) for k in range(60))), 30
    )

    assert all(o == [True] * 7 if k % 2 else o is True for k, o in enumerate(outcomes))
    bodies = [m.body for m in await take_messages(confirm_channel, private_queue)]
    assert len(bodies) == 30 * 7 + 30
    for k in range(1, 60, 2):  # a batch's messages stay together and in order
        start = bodies.index(b'"b%d-0"' % k)
        assert bodies[start : start + 7] == [b'"b%d-%d"' % (k, n) for n in range(7)]
    assert channel.confirmations == {}


async def test_a_long_batch_goes_in_several_writes_and_in_order(
    confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    channel = await confirm_channel.get_underlay_channel()
    bodies = [b'"%d-' % n + b"y" * 9_000 + b'"' for n in range(300)]  # 2.7 MB, 300 messages
    assert len(_writes([JsonMessage(body, private_queue) for body in bodies])) >= 3
    routed = await asyncio.wait_for(
        publish_json_many(channel, [JsonMessage(body, private_queue) for body in bodies]), 60
    )
    assert routed == [True] * 300
    assert [m.body for m in await take_messages(confirm_channel, private_queue)] == bodies


async def test_a_bad_routing_key_sends_nothing_and_the_channel_goes_on(
    confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    channel = await confirm_channel.get_underlay_channel()
    tag = channel.delivery_tag
    with pytest.raises(ValueError, match="routing key longer than 255 bytes"):
        await publish_json_many(
            channel, [JsonMessage(b"1", private_queue), JsonMessage(b"2", "k" * 256)]
        )
    assert channel.delivery_tag == tag
    assert await publish_json_many(channel, [JsonMessage(b"3", private_queue)]) == [True]
    assert [m.body for m in await take_messages(confirm_channel, private_queue)] == [b"3"]


async def test_a_closed_channel_fails_the_batch_instead_of_hanging(
    amqp_connection: AbstractRobustConnection,
) -> None:
    opened = await amqp_connection.channel(publisher_confirms=True)
    channel = await opened.get_underlay_channel()
    await opened.close()
    with pytest.raises(ChannelInvalidStateError):
        await asyncio.wait_for(publish_json_many(channel, [JsonMessage(b"1", "anywhere")]), 10)


async def test_a_batcher_sends_one_turns_publishes_together_each_with_its_own_outcome(
    amqp_connection: AbstractRobustConnection, private_queue: str
) -> None:
    opened = await amqp_connection.channel(publisher_confirms=True, on_return_raises=True)
    channel = await opened.get_underlay_channel()
    writes = WriteCounter(channel)
    batcher = PublishBatcher(opened.get_underlay_channel)
    try:
        keys = [private_queue] * 9 + ["no-such-queue-anywhere"] + [private_queue] * 10
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(batcher.publish(JsonMessage(b'"%d"' % n, key)) for n, key in enumerate(keys)),
                return_exceptions=True,
            ),
            30,
        )
        assert writes.count == 1  # twenty publishes of one turn, one write
        assert [type(o).__name__ for o in outcomes] == ["bool"] * 9 + ["PublishError"] + [
            "bool"
        ] * 10
        bodies = [m.body for m in await take_messages(opened, private_queue)]
        assert bodies == [b'"%d"' % n for n in range(20) if n != 9]
        # A publish of a later turn is a write of its own, and the batcher goes on.
        writes.count = 0
        assert await batcher.publish(JsonMessage(b'"late"', private_queue)) is True
        assert writes.count == 1
    finally:
        await opened.close()


async def test_an_ack_batcher_acks_one_turns_deliveries_in_one_write(
    amqp_connection: AbstractRobustConnection,
    confirm_channel: AbstractRobustChannel,
    private_queue: str,
) -> None:
    publisher = await confirm_channel.get_underlay_channel()
    await publish_json_many(publisher, [JsonMessage(b'"%d"' % n, private_queue) for n in range(20)])
    opened = await amqp_connection.channel()
    channel = await opened.get_underlay_channel()
    deliveries = []
    for _ in range(20):
        got = await channel.basic_get(private_queue, no_ack=False)
        assert isinstance(got, aiormq.abc.DeliveredMessage)
        deliveries.append(Delivery(got))
    writes = WriteCounter(channel)
    acks = AckBatcher()
    await asyncio.wait_for(asyncio.gather(*(acks.ack(d) for d in deliveries[::-1])), 10)
    assert writes.count == 1  # twenty acks, in no particular order, one write
    await opened.close()  # anything not acked would go back to the queue now
    declared = await confirm_channel.declare_queue(private_queue, passive=True)
    assert declared.declaration_result.message_count == 0
    # On a closed channel an ack fails at once instead of hanging.
    with pytest.raises(ChannelInvalidStateError):
        await asyncio.wait_for(acks.ack(deliveries[0]), 10)
