"""Acknowledging the service's deliveries in runs: one ``multiple`` ack per run of settled ones.

Each ack is a frame, a socket write and a command the quorum queue replicates. The service
settles deliveries batch by batch and mostly in delivery order, so it acks the newest of a
run of settled deliveries with ``multiple=True``, which settles the whole run at once. A
delivery that is not settled yet holds back the ones after it: nothing is acked before its
step is durable, at the price of a later ack for the ones behind it.

An ack is off every execution's critical path, so a run may also be held for ``delay``
seconds, to be acked with the runs settled meanwhile: at low load, when every batch holds
one message, that turns one ack per message into one per ``delay``. At most ``max_held``
deliveries of a channel are held, so the prefetch window never fills with them. A crash
while holding redelivers those messages; their steps are committed, so the engine drops
them as duplicates.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from broker import Delivery

log = logging.getLogger(__name__)


@dataclass
class _Channel:
    """The deliveries of one channel that are not acked yet, by delivery tag."""

    open: list[int] = field(default_factory=list)  # sorted
    settled: dict[int, Delivery] = field(default_factory=dict)
    held: Delivery | None = None  # the newest of the runs settled and not acked yet
    held_count: int = 0


class RunAcks:
    """Tracks the deliveries of the consumers' channels and acks them in runs.

    Every delivery must be :meth:`received` before any later delivery of its channel is
    settled. The consumer starts its callbacks in delivery order and the service registers a
    message before its first ``await``, so that holds. A delivery that is nacked or requeued
    must be :meth:`dropped` instead of settled.
    """

    def __init__(self, delay: float = 0.0, max_held: int = 1) -> None:
        self.delay = delay
        self.max_held = max(1, max_held)
        self._channels: dict[object, _Channel] = {}
        # id(message) -> (channel key, message); holding the message keeps its id unique.
        self._channel_of: dict[int, tuple[object, Delivery]] = {}
        self._flusher: asyncio.Task[None] | None = None

    def received(self, message: Delivery) -> None:
        """Register a delivery (before anything is awaited for it)."""
        key = message.channel
        if message.delivery_tag is None:
            return
        state = self._channels.setdefault(key, _Channel())
        bisect.insort(state.open, message.delivery_tag)
        self._channel_of[id(message)] = (key, message)

    def dropped(self, message: Delivery) -> None:
        """Forget a delivery that was nacked (it is not acked with a run)."""
        key, _ = self._channel_of.pop(id(message), (None, None))
        state = self._channels.get(key) if key is not None else None
        if state is None or message.delivery_tag is None:
            return
        index = bisect.bisect_left(state.open, message.delivery_tag)
        if index < len(state.open) and state.open[index] == message.delivery_tag:
            del state.open[index]

    async def ack(self, messages: Iterable[Delivery]) -> None:
        """Settle ``messages``; ack every run of settled deliveries at the front of a channel."""
        touched = set()
        for message in messages:
            key, _ = self._channel_of.pop(id(message), (None, None))
            state = self._channels.get(key) if key is not None else None
            if state is None or message.delivery_tag is None:
                await _ack_alone(message)  # not registered, or its channel is gone
                continue
            state.settled[message.delivery_tag] = message
            touched.add(key)
        full = False
        for key in touched:
            full |= self._hold_run(self._channels[key])
        if full or self.delay <= 0:
            await self.flush()
        elif self._flusher is None and any(self._channels[key].held for key in touched):
            # Runs held earlier have a flusher already: only this call's can be new.
            self._flusher = asyncio.create_task(self._flush_later())

    def pending(self) -> int:
        """Deliveries registered and not acked yet (settled or not, held or not)."""
        return sum(len(state.open) + state.held_count for state in self._channels.values())

    async def flush(self) -> None:
        """Ack every held run now (one frame per channel); a stopping service calls it
        before its connection closes."""
        if self._flusher is not None:  # only ever cancelled while it sleeps
            self._flusher.cancel()
            self._flusher = None
        for key, state in list(self._channels.items()):
            newest, state.held, state.held_count = state.held, None, 0
            if newest is None:
                continue
            try:
                await newest.ack(multiple=True)
            except Exception as exc:
                # The channel is gone: the broker requeues what was not acked, and a
                # redelivery is a duplicate the engine drops. Nothing more can be acked on
                # that channel.
                log.debug("acking a run failed (%s); dropping the channel's deliveries", exc)
                self._channels.pop(key, None)

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            return  # flushed by ack() meanwhile
        self._flusher = None
        await self.flush()

    def _hold_run(self, state: _Channel) -> bool:
        """Move the settled run at the front of ``state`` to its held ack; True when the
        channel holds ``max_held`` deliveries or more."""
        ended = 0
        while ended < len(state.open) and state.open[ended] in state.settled:
            state.held = state.settled.pop(state.open[ended])
            ended += 1
        del state.open[:ended]
        state.held_count += ended
        return state.held_count >= self.max_held


async def _ack_alone(message: Delivery) -> None:
    try:
        await message.ack()
    except Exception as exc:  # a closed channel: the broker requeues it
        log.debug("ack failed: %s", exc)
