"""Publishing the outbox: each committed message is sent with a publisher confirm, then forgotten."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from aio_pika.abc import AbstractChannel

from broker.publishing import JsonMessage, publish_json_many
from broker.topology import EXECUTIONS_EXCHANGE, FUNCTION_QUEUE_PREFIX
from orchestrator.store import OutboxMessage, Store

log = logging.getLogger(__name__)
Unroutable = Callable[[OutboxMessage], Awaitable[None]]


class OutboxPublisher:
    """Sends outbox rows to RabbitMQ; a row is deleted only after the broker confirmed it.

    Confirmed rows are not deleted at once in a transaction of their own: the next batch's
    transaction deletes them (:meth:`forget_confirmed`), or a flush ``forget_after``
    seconds later if no batch comes. One commit per batch instead of two. A crash in
    between republishes those rows on restart; a duplicate is dropped downstream by its
    task token, as any redelivery is.
    """

    def __init__(
        self,
        store: Store,
        channel: AbstractChannel,
        forget_after: float = 0.05,
        *,
        unroutable: Unroutable | None = None,
    ) -> None:
        self.store = store
        self.channel = channel
        self.forget_after = forget_after
        # Called for a task request no queue takes (its function has no queue: the broker
        # returned it); it owns the row from then on.
        self.unroutable = unroutable
        self._confirmed: list[int] = []
        self._flush: asyncio.TimerHandle | None = None

    async def publish(self, ids: Iterable[int]) -> None:
        """Publish the outbox rows ``ids`` (those not yet sent) in commit order."""
        await self._send(self.store.outbox_messages(ids))

    def forget_confirmed(self) -> None:
        """Delete the rows the broker has confirmed so far (in the caller's transaction, if
        one is open)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._confirmed:
            ids, self._confirmed = self._confirmed, []
            self.store.delete_outbox(ids)

    async def sweep(self, older_than_seconds: float = 0.0) -> int:
        """Publish rows left behind (a crash, a lost connection); returns how many were sent."""
        self.forget_confirmed()  # confirmed rows are not left behind
        pending = self.store.claim_outbox(time.time() - older_than_seconds)
        await self._send(pending)
        return len(pending)

    async def sweep_forever(self, every_seconds: float = 5.0) -> None:
        """Re-publish stragglers periodically; rows are left alone until they are this old."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                sent = await self.sweep(older_than_seconds=every_seconds)
                if sent:
                    log.warning("re-published %d outbox message(s) left unsent", sent)
            except Exception as exc:  # the next sweep retries; the service keeps serving
                log.warning("outbox sweep failed: %s", exc)

    async def _send(self, rows: list[OutboxMessage]) -> None:
        # The rows of one step (of a batch of steps) go to different queues: publish them
        # together, in one write, wait for all confirms, then forget them in one statement.
        # If one fails, all stay for the sweeper (a duplicate is dropped downstream; a loss
        # is not possible).
        if rows:
            for row in rows:
                if row.exchange not in ("", EXECUTIONS_EXCHANGE):
                    raise ValueError(f"outbox names an unknown exchange {row.exchange!r}")
            channel = await self.channel.get_underlay_channel()
            routed = await publish_json_many(channel, [_message(row) for row in rows])
            for row, ok in zip(rows, routed, strict=True):
                if not ok:
                    await self._returned(row)
            self._confirmed.extend(row.id for row in rows)
            if self._flush is None:
                loop = asyncio.get_running_loop()
                self._flush = loop.call_later(self.forget_after, self._flush_now)

    def _flush_now(self) -> None:
        """No batch came to carry the deletes: commit them on their own."""
        self._flush = None
        try:
            self.forget_confirmed()
        except Exception as exc:  # the rows stay; the sweeper republishes, duplicates drop
            log.warning("forgetting confirmed outbox rows failed: %s", exc)

    async def _returned(self, row: OutboxMessage) -> None:
        """The broker returned ``row``: no queue is bound to its routing key."""
        if row.routing_key.startswith(FUNCTION_QUEUE_PREFIX):
            if self.unroutable is not None:
                await self.unroutable(row)
        else:  # a reply whose asker has gone: nothing waits for it any more
            log.debug("nobody took %s's message (its queue is gone)", row.routing_key)


def _message(row: OutboxMessage) -> JsonMessage:
    return JsonMessage(
        row.body,
        row.routing_key,
        exchange=row.exchange,
        correlation_id=row.correlation_id,
        reply_to=row.reply_to,
        # The executions exchange is a broadcast: nobody bound is normal, not a return.
        mandatory=row.exchange != EXECUTIONS_EXCHANGE,
    )
