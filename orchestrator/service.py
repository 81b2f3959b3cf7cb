"""The orchestrator service: consumes ``intake`` and task results, drives the engine, publishes.

Per inbound message: parse (a bad message is dead-lettered with its reason and acked), step
and commit through the engine, publish the committed outbox with confirms, then ack. A crash
anywhere leaves either the inbound message unacked (redelivered, deduplicated) or the outbox
committed (re-published on restart).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aio_pika.abc import AbstractRobustConnection
from pydantic import ValidationError

import messages
from broker import (
    CONTROL_QUEUE,
    INTAKE_QUEUE,
    TASK_RESULTS_QUEUE,
    Consumer,
    Delivery,
    Topology,
    connect_and_set_up,
    consume,
    function_queue,
    oversized,
)
from broker.publishing import publish_json
from orchestrator import metrics, replies
from orchestrator.acks import RunAcks
from orchestrator.api.actions import StepFunctionsApi
from orchestrator.api.app import create_app
from orchestrator.api.server import ApiServer
from orchestrator.api.sigv4 import Credentials
from orchestrator.arns import Account
from orchestrator.asl.definition import StateMachine, TaskState
from orchestrator.engine import Engine, StartRejected
from orchestrator.publisher import OutboxPublisher
from orchestrator.store import SqliteStore

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long a settled delivery's ack may wait to share a frame with later ones (acks are off
# the executions' critical path; fewer acks are fewer writes and fewer quorum-queue commands).
ACK_DELAY_SECONDS = 0.02


@dataclass(frozen=True)
class ServiceConfig:
    """How to run the service."""

    machines: dict[str, StateMachine]
    amqp_url: str
    db_path: Path
    prefetch: int = 100
    account: Account = field(default_factory=Account)
    api_host: str = "127.0.0.1"
    api_port: int | None = 8083  # None: no API server
    credentials: Credentials | None = None  # when set, API requests must be signed for them


def function_names(machines: dict[str, StateMachine]) -> set[str]:
    """Every function a Task of the loaded machines invokes."""
    return {
        state.function_name
        for machine in machines.values()
        for state in machine.states.values()
        if isinstance(state, TaskState)
    }


async def run_service(
    config: ServiceConfig, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """Serve until ``stop`` is set; ``ready`` is set once the consumers are running."""
    store = SqliteStore(config.db_path, checkpoint_in_background=True)
    engine = Engine(config.machines, store, account=config.account)
    in_flight: set[asyncio.Task[None]] = set()

    async def subscribe(connection: AbstractRobustConnection) -> _Subscription:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=config.prefetch)
        topology = Topology(channel)
        await topology.executions_exchange()
        for name in sorted(function_names(engine.machines)):
            await topology.work_queue(function_queue(name))
        for name in (INTAKE_QUEUE, TASK_RESULTS_QUEUE, CONTROL_QUEUE):
            await topology.work_queue(name)
        publisher = OutboxPublisher(store, channel)
        left = await publisher.sweep()
        if left:
            log.info("published %d outbox message(s) left by the previous run", left)
        handlers = _Handlers(engine, publisher, topology, prefetch=config.prefetch)
        consumers = [
            await consume(channel, INTAKE_QUEUE, _tracked(handlers.on_intake, in_flight)),
            await consume(channel, TASK_RESULTS_QUEUE, _tracked(handlers.on_result, in_flight)),
            await consume(channel, CONTROL_QUEUE, _tracked(handlers.on_control, in_flight)),
        ]
        return _Subscription(topology, publisher, handlers, consumers)

    try:
        connection, subscribed = await connect_and_set_up(config.amqp_url, subscribe)
    except BaseException:
        store.close()
        raise
    topology, publisher, handlers = subscribed.topology, subscribed.publisher, subscribed.handlers
    consumers = subscribed.consumers
    try:
        committer = asyncio.create_task(handlers.commit_forever())
        sweeper = asyncio.create_task(publisher.sweep_forever())
        timers = asyncio.create_task(fire_timers(engine, publisher, stop))
        sampler = asyncio.create_task(sample_queues(topology, engine))
        server = None
        if config.api_port is not None:

            async def prepare(machine: StateMachine) -> None:
                for name in sorted(function_names({machine.name: machine})):
                    await topology.work_queue(function_queue(name))

            api = StepFunctionsApi(engine, publisher, account=config.account, prepare=prepare)
            server = ApiServer(
                create_app(api, config.credentials), config.api_host, config.api_port
            )
            await server.start()
            log.info("AWS Step Functions API on http://%s:%d", config.api_host, config.api_port)
        log.info(
            "orchestrator serving %s; functions: %s",
            ", ".join(sorted(engine.machines)),
            ", ".join(sorted(function_names(engine.machines))),
        )
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("orchestrator stopping")
        for consumer in consumers:
            await _cancel(consumer)
        if in_flight:
            await asyncio.wait(in_flight, timeout=10)
        # Apply what the consumers queued before stopping (unacked leftovers are redelivered).
        for _ in range(1000):
            if handlers.idle():
                break
            await asyncio.sleep(0.01)
        committer.cancel()
        await handlers.acks.flush()
        publisher.forget_confirmed()
        if server is not None:
            await server.stop()
        sweeper.cancel()
        timers.cancel()
        sampler.cancel()
    finally:
        await connection.close()
        store.close()


async def fire_timers(
    engine: Engine, publisher: OutboxPublisher, stop: asyncio.Event, poll: float = 0.2
) -> None:
    """Fire stored timers as they fall due (Wait, Retry backoff, timeouts, heartbeats).

    Timers are rows in the store, so a restart re-arms them: the first pass fires every
    timer that fell due while the service was down.
    """
    while not stop.is_set():
        try:
            due = engine.store.due_timers(time.time())
            for timer, execution_arn in due:
                ids = engine.fire_timer(timer, execution_arn)
                if ids:
                    await publisher.publish(ids)
        except Exception as exc:  # the next pass retries; the service keeps serving
            log.warning("firing timers failed: %s", exc)
            due = []
        if not due:
            next_due = engine.store.next_timer_due()
            wait = poll if next_due is None else min(max(next_due - time.time(), 0.0), poll)
            await asyncio.sleep(wait)


async def sample_queues(topology: Topology, engine: Engine, every: float = 5.0) -> None:
    """Keep the queue-depth gauge of /metrics current."""
    while True:
        names = [INTAKE_QUEUE, TASK_RESULTS_QUEUE, CONTROL_QUEUE]
        names += [function_queue(f) for f in sorted(function_names(engine.machines))]
        for name in names:
            try:
                declared = await topology.channel.declare_queue(name, passive=True)
                metrics.QUEUE_MESSAGES.labels(name).set(
                    declared.declaration_result.message_count or 0
                )
            except Exception as exc:  # a sample missed is no reason to stop serving
                log.debug("sampling %s failed: %s", name, exc)
        await asyncio.sleep(every)


Handler = Callable[[Delivery], Awaitable[None]]


def _tracked(handler: Handler, in_flight: set[asyncio.Task[None]]) -> Handler:
    """Wrap a consumer callback so that a graceful stop can wait for the running ones."""

    async def run(message: Delivery) -> None:
        task = asyncio.current_task()
        assert task is not None
        in_flight.add(task)
        try:
            await handler(message)
        finally:
            in_flight.discard(task)

    return run


async def _cancel(consumer: Consumer) -> None:
    try:
        await consumer.cancel()
    except Exception as exc:  # the channel may already be gone; nothing is lost by it
        log.debug("cancelling the consumer of %s failed: %s", consumer.queue, exc)


@dataclass(frozen=True)
class _Subscription:
    """What the service holds once subscribed: topology, publisher, handlers, consumers."""

    topology: Topology
    publisher: OutboxPublisher
    handlers: _Handlers
    consumers: list[Consumer]


@dataclass
class _Work:
    """A parsed inbound message and the engine call it asks for."""

    message: Delivery
    queue: str
    parsed: Any
    apply: Callable[[], list[int] | None]
    describe: str


class _Handlers:
    """The consumers' callbacks, and the committer that applies their work in batches.

    A callback parses its message (dead-lettering what cannot be used) and queues the
    engine call. The committer takes everything queued, applies it in one store transaction
    (a savepoint per message), publishes the outbox rows all those steps wrote, then acks
    each message: one commit for many messages instead of one each.
    """

    def __init__(
        self,
        engine: Engine,
        publisher: OutboxPublisher,
        topology: Topology,
        max_batch: int = 256,
        max_sending: int = 8,
        prefetch: int = 100,
        ack_delay: float = ACK_DELAY_SECONDS,
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.topology = topology
        self.max_batch = max_batch
        self.work: asyncio.Queue[_Work] = asyncio.Queue()
        self.max_sending = max_sending
        self.sending: set[asyncio.Task[None]] = set()
        # Held acks stay well inside each consumer's prefetch window.
        self.acks = RunAcks(delay=ack_delay, max_held=prefetch // 4)

    async def on_intake(self, message: Delivery) -> None:
        def parse(body: bytes) -> messages.IntakeRequest:
            return messages.IntakeRequest.from_amqp(
                body,
                message.headers,
                message_id=message.message_id,
                reply_to=message.reply_to,
                correlation_id=message.correlation_id,
            )

        await self._receive(message, INTAKE_QUEUE, parse, self.engine.start, "a start")

    async def on_result(self, message: Delivery) -> None:
        def apply(result: messages.AnyTaskResult) -> list[int] | None:
            return self.engine.apply(
                result, reply_to=message.reply_to, correlation_id=message.correlation_id
            )

        await self._receive(
            message,
            TASK_RESULTS_QUEUE,
            messages.parse_task_result,
            apply,
            "a duplicate or stale task result",
        )

    async def on_control(self, message: Delivery) -> None:
        await self._receive(
            message,
            CONTROL_QUEUE,
            messages.StopExecutionRequest.from_wire,
            self.engine.stop,
            "a stop request for an execution that is not running",
        )

    async def _receive(
        self,
        message: Delivery,
        queue: str,
        parse: Callable[[bytes], T],
        apply: Callable[[T], list[int] | None],
        describe: str,
    ) -> None:
        """Parse a message (dead-lettering what cannot be used) and queue its engine call."""
        self.acks.received(message)  # before any await: deliveries register in order
        if too_large := oversized(message.body):
            await self._reject(message, queue, too_large)
            await self._answer(message, replies.unusable(queue, b"", too_large))
            return
        try:
            parsed = parse(message.body)
        except Exception as exc:  # ValidationError is a ValueError; anything else is a bug
            reason = _reason(exc)
            await self._reject(message, queue, reason)
            await self._answer(message, replies.unusable(queue, message.body, reason))
            return
        self.work.put_nowait(_Work(message, queue, parsed, lambda: apply(parsed), describe))

    async def commit_forever(self) -> None:
        """Apply queued work in batches until cancelled.

        Committing is synchronous; publishing a batch's outbox and acking its messages wait
        on the broker, so they run as tasks while the next batch commits (at most
        ``max_sending`` batches in the air). Each message is still acked only after what
        its step sent was confirmed.
        """
        while True:
            batch = [await self.work.get()]
            while len(batch) < self.max_batch and not self.work.empty():
                batch.append(self.work.get_nowait())
            task = asyncio.create_task(self._commit(batch))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)
            if len(self.sending) >= self.max_sending:
                await asyncio.wait(self.sending, return_when=asyncio.FIRST_COMPLETED)

    def idle(self) -> bool:
        """Nothing queued, and every committed batch published and acked."""
        return self.work.empty() and not self.sending

    def _commit(self, batch: list[_Work]) -> Coroutine[Any, Any, None]:
        """Apply ``batch`` in one transaction; the coroutine that publishes and acks it."""
        applied: list[tuple[_Work, list[int]]] = []
        rejected: list[tuple[_Work, StartRejected]] = []
        refused: list[_Work] = []
        failed: list[_Work] = []
        try:
            with self.engine.store.batch():
                # The deletes ride on this commit (rolled back with it: the sweeper resends).
                self.publisher.forget_confirmed()
                for work in batch:
                    try:
                        ids = work.apply()
                    except StartRejected as exc:
                        rejected.append((work, exc))
                        continue
                    except Exception:  # a bug must not take the other messages down
                        log.exception("applying a message from %s failed", work.queue)
                        failed.append(work)
                        continue
                    if ids is None:
                        log.info("dropped %s", work.describe)
                        if work.message.reply_to and replies.is_callback(work.parsed):
                            refused.append(work)  # answered TaskDoesNotExist once settled
                    applied.append((work, ids or []))
        except Exception:
            log.exception("committing a batch of %d failed; it will be redelivered", len(batch))
            return self._settle([], [], [], batch)
        return self._settle(applied, rejected, refused, failed)

    async def _settle(
        self,
        applied: list[tuple[_Work, list[int]]],
        rejected: list[tuple[_Work, StartRejected]],
        refused: list[_Work],
        failed: list[_Work],
    ) -> None:
        """Publish what the applied steps committed, then ack, dead-letter or requeue."""
        try:
            await self.publisher.publish([i for _, ids in applied for i in ids])
        except Exception as exc:
            # Committed but not sent: the sweeper sends it; the redeliveries are duplicates.
            log.warning("publishing failed (%s); the outbox keeps the messages", exc)
            failed.extend(work for work, _ in applied)
            applied = []
        await self.acks.ack(work.message for work, _ in applied)
        for work, refusal in rejected:
            await self._reject(work.message, work.queue, str(refusal))
            await self._answer(work.message, replies.start_refused(work.parsed, refusal))
        for work in failed:
            await self._nack(work.message)
        for work in refused:
            await self._answer(work.message, replies.callback_refused(work.parsed))

    async def _answer(self, message: Delivery, body: bytes | None) -> None:
        """Send ``body`` to the message's ``reply_to``, if both exist (best effort: the
        asker may be gone, and the message itself was dead-lettered or applied)."""
        if body is None or not message.reply_to:
            return
        try:
            channel = await self.topology.channel.get_underlay_channel()
            await publish_json(
                channel,
                body,
                routing_key=message.reply_to,
                correlation_id=message.correlation_id,
                mandatory=False,
            )
        except Exception as exc:
            log.warning("answering %s failed: %s", message.reply_to, exc)

    async def _reject(self, message: Delivery, queue: str, reason: str) -> None:
        log.warning("dead-lettering a message from %s: %s", queue, reason)
        try:
            await self.topology.dead_letter(message, queue, reason)
        except Exception as exc:
            log.warning("dead-lettering failed (%s); leaving the message to be redelivered", exc)
            await self._nack(message)
            return
        await self.acks.ack([message])

    async def _nack(self, message: Delivery) -> None:
        self.acks.dropped(message)
        try:
            await message.nack(requeue=True)
        except Exception as exc:  # a closed channel requeues it anyway
            log.debug("nack failed: %s", exc)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        return f"invalid message: {problems}"
    return str(exc)
