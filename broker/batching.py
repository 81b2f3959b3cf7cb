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

import aiormq
from aiormq.abc import ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError

from broker.deliveries import Delivery
from broker.publishing import JsonMessage, publish_json_settled

ChannelSource = Callable[[], Awaitable[aiormq.abc.AbstractChannel]]


class PublishBatcher:
    """Publishes its callers' messages together on the channel ``channel`` gives (asked at
    each send: a robust channel's underlying one changes when it reconnects)."""

    def __init__(self, channel: ChannelSource) -> None:
        self._channel = channel
        self._pending: list[tuple[JsonMessage, asyncio.Future[bool]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def publish(self, message: JsonMessage) -> bool:
        """Publish ``message`` with the others of this turn and wait for its confirm.

        Returns False when the broker returned it (``mandatory``, no queue bound), True when
        it was routed; raises what ``publish_json`` would raise for it alone.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((message, future))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send())
        return await future

    async def _send(self) -> None:
        batch: list[tuple[JsonMessage, asyncio.Future[bool]]] = []
        try:
            await asyncio.sleep(0)  # the tasks made ready with this one queue theirs first
            batch, self._pending, self._sending = self._pending, [], None
            channel = await self._channel()
            outcomes = await publish_json_settled(channel, [message for message, _ in batch])
        except BaseException as exc:  # nothing was queued, or this task was cancelled
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
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller stopped waiting
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


class AckBatcher:
    """Acks its callers' deliveries together: the Ack frames of one turn of the loop go in
    one write per channel."""

    def __init__(self) -> None:
        self._pending: list[tuple[Delivery, asyncio.Future[None]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def ack(self, message: Delivery) -> None:
        """Ack ``message`` with the others of this turn; returns once its frame is queued
        for the connection (raises as ``basic_ack`` would: its channel is closed)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((message, future))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send())
        await future

    async def _send(self) -> None:
        batch: list[tuple[Delivery, asyncio.Future[None]]] = []
        try:
            await asyncio.sleep(0)  # the tasks made ready with this one queue theirs first
            batch, self._pending, self._sending = self._pending, [], None
            by_channel: dict[int, list[tuple[Delivery, asyncio.Future[None]]]] = {}
            for item in batch:
                by_channel.setdefault(id(item[0].channel), []).append(item)
            for items in by_channel.values():
                await _write_acks(items)
        except BaseException as exc:  # cancelled: nobody is left to be told
            if not batch:
                batch, self._pending, self._sending = self._pending, [], None
            for _, future in batch:
                if not future.done():
                    future.cancel()
            if not isinstance(exc, asyncio.CancelledError):
                raise


async def _write_acks(items: list[tuple[Delivery, asyncio.Future[None]]]) -> None:
    """Queue one write of the Ack frames of ``items`` (deliveries of one channel); settle
    each caller's future with the outcome."""
    channel = items[0][0].channel
    try:
        if channel.is_closed or not isinstance(channel, aiormq.Channel):
            raise ChannelInvalidStateError(f"{channel!r} closed")
        frames = [aiormq.spec.Basic.Ack(delivery_tag=message.tag()) for message, _ in items]
        payload = ChannelFrame.marshall(frames=frames, channel_number=channel.number)
        await channel.write_queue.put(payload)
    except Exception as exc:
        for _, future in items:
            if not future.done():
                future.set_exception(exc)
        return
    for _, future in items:
        if not future.done():
            future.set_result(None)
