"""One write for the messages several tasks publish in the same turn of the event loop.

A worker handles up to ``--concurrency`` requests at once, and requests that arrive together
finish together: each then publishes its result on its own, a write (and a frame for the
broker to read) each. :class:`PublishBatcher` gathers what its callers hand it until the
loop has run every task that was ready, sends it all with
:func:`broker.publishing.publish_json_settled`, and gives each caller its own message's
outcome, as if it had published alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiormq

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
