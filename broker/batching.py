"""One write for what several tasks send in the same turn of the event loop.

A worker handles up to ``--concurrency`` requests at once, and requests that arrive together
finish together: each then publishes its result, and acks its request, on its own, a write
(and a frame for the broker to read) each. :class:`PublishBatcher` gathers what its callers
hand it until the loop has run every task that was ready, sends it all with
:func:`broker.publishing.publish_json_settled`, and gives each caller its own message's
outcome, as if it had published alone. :class:`AckBatcher` does the same for acks: one
write per channel of the Ack frames of that turn (each delivery acked by its own tag, as
alone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import aiormq
from aiormq.abc import ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError

from broker.deliveries import Delivery
from broker.publishing import JsonMessage, publish_json_settled

ChannelSource = Callable[[], Awaitable[aiormq.abc.AbstractChannel]]


T = TypeVar("T")
R = TypeVar("R")


class _TurnBatch(Generic[T, R]):
    """What callers hand in during one turn of the loop, flushed together once every task
    that was ready has run; each caller waits for its own item's outcome."""

    def __init__(self) -> None:
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def _add(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send())
        return await future

    async def _send(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            await asyncio.sleep(0)  # the tasks made ready with this one queue theirs first
            batch, self._pending, self._sending = self._pending, [], None
            await self._flush(batch)
        except BaseException as exc:  # nothing was sent, or this task was cancelled
            if not batch:
                batch, self._pending, self._sending = self._pending, [], None
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(exc, Exception):  # every caller gets the reason
                    future.set_exception(exc)
                else:
                    future.cancel()
            if not isinstance(exc, Exception):
                raise

    async def _flush(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        """Send ``batch`` and settle each caller's future (one it has stopped waiting for is
        done already)."""
        raise NotImplementedError


def _settle(future: asyncio.Future[R], outcome: R | Exception) -> None:
    """Give a caller its outcome, unless it stopped waiting."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class PublishBatcher(_TurnBatch[JsonMessage, bool]):
    """Publishes its callers' messages together on the channel ``channel`` gives (asked at
    each send: a robust channel's underlying one changes when it reconnects)."""

    def __init__(self, channel: ChannelSource) -> None:
        super().__init__()
        self._channel = channel

    async def publish(self, message: JsonMessage) -> bool:
        """Publish ``message`` with the others of this turn and wait for its confirm.

        Returns False when the broker returned it (``mandatory``, no queue bound), True when
        it was routed; raises what ``publish_json`` would raise for it alone.
        """
        return await self._add(message)

    async def _flush(self, batch: list[tuple[JsonMessage, asyncio.Future[bool]]]) -> None:
        channel = await self._channel()
        outcomes = await publish_json_settled(channel, [message for message, _ in batch])
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)


class AckBatcher(_TurnBatch[Delivery, None]):
    """Acks its callers' deliveries together: the Ack frames of one turn of the loop go in
    one write per channel."""

    async def ack(self, message: Delivery) -> None:
        """Ack ``message`` with the others of this turn; returns once its frame is queued
        for the connection (raises as ``basic_ack`` would: its channel is closed)."""
        await self._add(message)

    async def _flush(self, batch: list[tuple[Delivery, asyncio.Future[None]]]) -> None:
        by_channel: dict[int, list[tuple[Delivery, asyncio.Future[None]]]] = {}
        for item in batch:
            by_channel.setdefault(id(item[0].channel), []).append(item)
        for items in by_channel.values():
            outcome = await _write_acks([message for message, _ in items])
            for _, future in items:
                _settle(future, outcome)


async def _write_acks(messages: list[Delivery]) -> Exception | None:
    """Queue one write of the Ack frames of ``messages`` (deliveries of one channel); the
    error that stopped it, if any."""
    channel = messages[0].channel
    try:
        if channel.is_closed or not isinstance(channel, aiormq.Channel):
            raise ChannelInvalidStateError(f"{channel!r} closed")
        frames = [aiormq.spec.Basic.Ack(delivery_tag=message.tag()) for message in messages]
        payload = ChannelFrame.marshall(frames=frames, channel_number=channel.number)
        await channel.write_queue.put(payload)
    except Exception as exc:
        return exc
    return None
