"""The worker process's loop: consume one function's queue, invoke, reply, then ack.

Each request is acked only after its result is confirmed by the broker on the reply queue,
so a crash at any point leaves the request in the queue to be redelivered (at-least-once;
the orchestrator drops a duplicate result by its task token and attempt). A request that
cannot be parsed, or that says nowhere to reply, is dead-lettered with its reason and acked:
it never crashes the worker and is never dropped silently.

Requests run one at a time, in delivery order: prefetch only buffers, to hide the round
trip to the broker. That keeps a seeded worker (``WORKER_SEED``) reproducible and lets a
graceful stop tell the one request in flight, which it finishes, from buffered ones, which it
hands back to the queue. With ``--concurrency`` above 1, the replies that requests finishing
together publish go to the broker in one write (:class:`broker.batching.PublishBatcher`),
each still confirmed before its request is acked, and their acks in another
(:class:`broker.batching.AckBatcher`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aiormq.exceptions import DeliveryError, PublishError
from pydantic import ValidationError

from broker import (
    Consumer,
    Delivery,
    Topology,
    connect_and_set_up,
    consume,
    function_queue,
    oversized,
)
from broker.batching import AckBatcher, PublishBatcher
from broker.publishing import JsonMessage
from messages import TaskFailed, TaskRequest, TaskSucceeded, WireModel
from workers.runtime import Function, invoke

__all__ = ["DEFAULT_PREFETCH", "Worker", "serve"]

DEFAULT_PREFETCH = 10
log = logging.getLogger(__name__)
# What a worker holds once subscribed: its channel, topology and consumer.
_Subscription = tuple[AbstractRobustChannel, Topology, Consumer]
# A parsed request: its task token, and how to run it (to the results to reply, in order).
Prepared = tuple[str, Callable[[], Awaitable[Sequence[WireModel]]]]


class Worker:
    """Serves one function from its queue until told to stop."""

    def __init__(
        self,
        function: Function,
        *,
        url: str | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        concurrency: int = 1,
    ) -> None:
        if prefetch < 1:
            # prefetch_count 0 means "unlimited" to RabbitMQ: the whole queue would land here.
            raise ValueError(f"prefetch must be at least 1, got {prefetch}")
        if not 1 <= concurrency <= prefetch:
            raise ValueError(f"concurrency must be from 1 to the prefetch ({prefetch})")
        self.function = function
        self.url = url
        self.prefetch = prefetch
        # Requests handled at once. 1 keeps delivery order (and WORKER_SEED runs reproducible);
        # more overlaps the waits for the broker's confirms.
        self.concurrency = concurrency
        self.queue_name = function_queue(function.name)
        # None is the sentinel that wakes an idle processor when stopping.
        self._inbox: asyncio.Queue[Delivery | None] = asyncio.Queue()
        # Requests answered in one turn of the loop are acked in one write.
        self._acks = AckBatcher()
        self._stopping = False
        self._accepting = True

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set, then finish the request in flight and return.

        ``ready`` is set once the consumer is registered with the broker.
        """
        subscribed = await self._connect(stop)
        if subscribed is None:
            return
        connection, (channel, topology, consumer) = subscribed
        try:
            processor = asyncio.create_task(self._process(channel, topology))
            log.info(
                "started %s: consuming %s (prefetch %d)",
                self.function.name,
                self.queue_name,
                self.prefetch,
            )
            if ready is not None:
                ready.set()
            await stop.wait()
            log.info("stopping %s", self.function.name)
            await self._shutdown(consumer, processor)
        finally:
            await connection.close()
        log.info("stopped %s", self.function.name)

    async def _subscribe(self, connection: AbstractRobustConnection) -> _Subscription:
        """Open the channel, declare the queue and register the consumer."""
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.set_qos(prefetch_count=self.prefetch)
        topology = Topology(channel)
        await topology.work_queue(self.queue_name)
        consumer = await consume(channel, self.queue_name, self._on_message)
        return channel, topology, consumer

    async def _connect(
        self, stop: asyncio.Event
    ) -> tuple[AbstractRobustConnection, _Subscription] | None:
        """Connect and subscribe, unless a stop request comes first (the broker may be slow
        to boot)."""
        connecting = asyncio.create_task(connect_and_set_up(self.url, self._subscribe))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({connecting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if connecting.done():
            return connecting.result()
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        log.info("stopped %s before connecting", self.function.name)
        return None

    async def _shutdown(self, consumer: Consumer, processor: asyncio.Task[None]) -> None:
        """Stop taking messages, finish the one in flight, hand the buffered ones back."""
        self._stopping = True
        self._inbox.put_nowait(None)
        try:
            # After Cancel-Ok the broker sends this consumer nothing more.
            await consumer.cancel()
        except Exception:
            log.exception("could not cancel the consumer of %s", self.queue_name)
        await processor
        # Requeue only now: a requeue before Cancel-Ok could come straight back to us.
        self._accepting = False
        while not self._inbox.empty():
            message = self._inbox.get_nowait()
            if message is not None:
                await _requeue(message)

    async def _on_message(self, message: Delivery) -> None:
        """The consumer's delivery callback: queue the message for the processor."""
        if self._accepting:
            self._inbox.put_nowait(message)
        else:
            await _requeue(message)

    async def _process(self, channel: AbstractRobustChannel, topology: Topology) -> None:
        """Handle queued messages, ``concurrency`` at a time, until stopping."""
        slots = asyncio.Semaphore(self.concurrency)
        # The replies of requests finishing in one turn of the loop share a write.
        replies = PublishBatcher(channel.get_underlay_channel)
        running: set[asyncio.Task[None]] = set()
        while not self._stopping:
            await slots.acquire()
            message = await self._inbox.get()
            if message is None or self._stopping:
                if message is not None:
                    self._inbox.put_nowait(message)  # handed back to the queue at shutdown
                slots.release()
                break
            task = asyncio.create_task(self._guarded(message, replies, topology, slots))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.wait(running)  # the requests in flight finish (reply and ack)

    async def _guarded(
        self,
        message: Delivery,
        replies: PublishBatcher,
        topology: Topology,
        slots: asyncio.Semaphore,
    ) -> None:
        try:
            await self._handle(message, replies, topology)
        except Exception:
            # A broker error here must not end the loop; the unacked message is
            # redelivered by the broker once the channel recovers.
            log.exception("failed to handle a message from %s", self.queue_name)
        finally:
            slots.release()

    async def _handle(self, message: Delivery, replies: PublishBatcher, topology: Topology) -> None:
        """Parse, invoke, reply, ack; dead-letter what cannot be handled."""
        if too_large := oversized(message.body):
            await self._dead_letter(message, topology, too_large)
            return
        try:
            task_token, run = self._prepare(message.body)
        except ValidationError as exc:
            await self._dead_letter(message, topology, _parse_failure(exc))
            return
        if not message.reply_to:
            reason = f"request has no reply_to: nowhere to send the result of task {task_token}"
            await self._dead_letter(message, topology, reason)
            return
        results = await run()
        try:
            for result in results:
                await _reply(replies, message.reply_to, task_token, result)
        except PublishError:
            reason = f"reply queue {message.reply_to!r} does not exist: result was unroutable"
            await self._dead_letter(message, topology, reason)
            return
        except DeliveryError:
            log.error("broker refused the result of task %s; requeueing", task_token)
            await _requeue(message)
            return
        await self._acks.ack(message)

    def _prepare(self, body: bytes) -> Prepared:
        """Parse a request (``ValidationError`` when the body is not one): its task token and
        how to run it. A worker of other requests overrides this (``IntegrationWorker``)."""
        request = TaskRequest.from_wire(body)
        if request.function_name != self.function.name:
            # Routing is by queue; a mismatch is an orchestrator bug worth seeing, not a
            # reason to refuse the work.
            log.warning(
                "request addressed to %s arrived on %s", request.function_name, self.queue_name
            )
        return request.task_token, functools.partial(self._invoke, request)

    async def _invoke(self, request: TaskRequest) -> list[TaskSucceeded | TaskFailed]:
        # A handler that may block runs in a thread, so the connection's heartbeats keep
        # flowing meanwhile; one that never waits is cheaper to call here.
        if self.function.blocks:
            return [await asyncio.to_thread(invoke, self.function, request)]
        return [invoke(self.function, request)]

    async def _dead_letter(self, message: Delivery, topology: Topology, reason: str) -> None:
        """Move ``message`` to the dead-letter queue with ``reason``, then ack it."""
        log.info("dead-lettering a message from %s: %s", self.queue_name, reason)
        await topology.dead_letter(message, self.queue_name, reason)
        await message.ack()


async def serve(
    function: Function,
    *,
    url: str | None = None,
    prefetch: int = DEFAULT_PREFETCH,
    concurrency: int = 1,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve ``function`` from its queue until ``stop`` is set; see ``Worker.run``."""
    await Worker(function, url=url, prefetch=prefetch, concurrency=concurrency).run(stop, ready)


async def _reply(
    replies: PublishBatcher,
    reply_to: str,
    task_token: str,
    result: WireModel,
) -> None:
    """Publish ``result`` to ``reply_to`` (with the other replies of this loop's turn) and
    wait for the broker's confirm.

    Raises ``PublishError`` when the broker returns it (no such queue: the channel has
    ``on_return_raises``) and ``DeliveryError`` when it nacks it.
    """
    await replies.publish(JsonMessage(result.to_wire(), reply_to, correlation_id=task_token))


async def _requeue(message: Delivery) -> None:
    """Give ``message`` back to its queue; if the channel is gone, the broker already has."""
    try:
        await message.nack(requeue=True)
    except Exception as exc:
        log.warning("could not requeue a message (%s); the broker requeues it on close", exc)


def _parse_failure(exc: ValidationError) -> str:
    """Why a body is not a task request, in one line for the dead-letter header."""
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        return f"body is not JSON: {errors[0]['msg']}"
    details = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(body)'}: {error['msg']}"
        for error in errors
    )
    article = "an" if exc.title[:1] in "AEIOU" else "a"  # the model's name: TaskRequest...
    return f"body is not {article} {exc.title}: {details}"
