"""The consumers' callbacks, and the committer that applies their work in batches.

A callback parses its message (dead-lettering what cannot be used, and answering its
``reply_to``) and queues the engine call. The committer takes everything queued, applies it
in one store transaction (a savepoint per message), publishes the outbox rows all those
steps wrote, then acks each message: one commit for many messages instead of one each.

Faults are told apart:
- the store failing (a full disk, an I/O error) is ours: the committer stops taking work and
  tries the same batch again with backoff, the messages stay unacked (so the broker neither
  redelivers nor dead-letters them) and the service resumes by itself when the store does;
- a message whose step raises is that message's problem: it is requeued (and the broker's
  delivery limit dead-letters it if it keeps failing);
- a message that was being applied when the process died is applied alone next time, and
  set aside (dead-lettered) when it killed the process alone (:mod:`crash_guard`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

import messages
from broker import (
    CONTROL_QUEUE,
    DEAD_LETTER_SUFFIX,
    INTAKE_QUEUE,
    TASK_RESULTS_QUEUE,
    Delivery,
    Topology,
    oversized,
)
from broker.publishing import publish_json
from orchestrator.engine import Engine, StartRejected
from orchestrator.service import replies
from orchestrator.service.acks import RunAcks
from orchestrator.service.backoff import Backoff
from orchestrator.service.crash_guard import CrashGuard, message_key
from orchestrator.service.publisher import OutboxPublisher
from orchestrator.store import ExecutionBusy, is_store_fault

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long a settled delivery's ack may wait to share a frame with later ones (acks are off
# the executions' critical path; fewer acks are fewer writes and fewer quorum-queue commands).
ACK_DELAY_SECONDS = 0.02
# How soon a message whose execution another replica was stepping is applied again.
BUSY_RETRY_SECONDS = 0.005
# Under load the committer waits a moment for more work before a batch: every batch costs a
# COMMIT, a publish write, an ack and the broker's work for each, whatever its size, so
# fuller batches leave more CPU for the steps (and for the workers and the broker beside
# them). It waits only while the previous batch held GATHER_WHEN messages or more (the loop
# is behind: work arrives faster than it is applied), until GATHER_SECONDS after that batch's
# steps were done (its COMMIT syncs meanwhile), and stops as soon as GATHER_UNTIL are queued.
# At light load a message is applied as soon as it comes.
GATHER_SECONDS = 0.015
GATHER_WHEN = 16
GATHER_UNTIL = 64


@dataclass
class Work:
    """A parsed inbound message and the engine call it asks for."""

    message: Delivery
    queue: str
    parsed: Any
    apply: Callable[[], list[int] | None]
    describe: str
    key: str = ""  # the crash guard's key
    alone: bool = False  # it was in flight when the process died: apply it on its own


@dataclass
class Outcomes:
    """What became of each message of a batch."""

    applied: list[tuple[Work, list[int]]] = field(default_factory=list)  # with outbox ids
    rejected: list[tuple[Work, StartRejected]] = field(default_factory=list)
    refused: list[Work] = field(default_factory=list)  # callbacks answered TaskDoesNotExist
    failed: list[Work] = field(default_factory=list)  # requeued
    busy: list[Work] = field(default_factory=list)  # another replica was stepping it


class StoreFault(Exception):
    """The store could not commit a batch; the batch is to be tried again as it is."""


class Handlers:
    """The consumers' callbacks and the committer (see the module's docstring)."""

    def __init__(
        self,
        engine: Engine,
        publisher: OutboxPublisher,
        topology: Topology,
        *,
        guard: CrashGuard | None = None,
        max_batch: int = 256,
        max_sending: int = 8,
        prefetch: int = 100,
        ack_delay: float = ACK_DELAY_SECONDS,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.topology = topology
        self.guard = guard
        self.max_batch = max_batch
        self.queued: deque[Work] = deque()
        self._arrived = asyncio.Event()
        self.max_sending = max_sending
        self.gather_seconds = gather_seconds
        self._gathered = asyncio.Event()  # set once GATHER_UNTIL messages are queued
        self._last_batch = 0  # how many messages the previous batch held
        self._applied_at = 0.0  # when the previous batch's steps were done (loop time)
        self._committing = False  # a batch is taken from the queue and not yet being sent
        self.sending: set[asyncio.Task[None]] = set()
        self.store_backoff = Backoff("committing to the store")
        # Held acks stay well inside each consumer's prefetch window.
        self.acks = RunAcks(delay=ack_delay, max_held=prefetch // 4)

    async def on_intake(self, message: Delivery) -> None:
        """A start request on ``intake``."""

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
        """A worker's task result, or a SendTask* callback."""

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
        """A control request (StopExecution)."""
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
        key = ""
        verdict = "apply"
        if self.guard is not None:
            key = message_key(queue, message.body, _identity(message))
            verdict = self.guard.verdict(key)
            if verdict == "set aside":
                reason = self.guard.reason(key)
                await self._reject(message, queue, reason)
                await self._answer(message, replies.unusable(queue, message.body, reason))
                if queue == TASK_RESULTS_QUEUE:
                    await self._fail_waiting_execution(message.body, reason)
                return
        try:
            parsed = parse(message.body)
        except Exception as exc:  # ValidationError is a ValueError; anything else is a bug
            reason = _reason(exc)
            await self._reject(message, queue, reason)
            await self._answer(message, replies.unusable(queue, message.body, reason))
            return
        work = Work(
            message, queue, parsed, lambda: apply(parsed), describe, key, verdict == "alone"
        )
        self.enqueue([work])

    def enqueue(self, works: list[Work]) -> None:
        """Queue work for the committer, in order."""
        self.queued.extend(works)
        self._arrived.set()
        if len(self.queued) >= GATHER_UNTIL:
            self._gathered.set()

    async def commit_forever(self) -> None:
        """Apply queued work in batches until cancelled.

        Committing is synchronous; publishing a batch's outbox and acking its messages wait
        on the broker, so they run as tasks while the next batch commits (at most
        ``max_sending`` batches in the air). Each message is still acked only after what
        its step sent was confirmed. A batch the store cannot commit is tried again, with
        backoff, before any other work.
        """
        while True:
            while not self.queued:
                self._arrived.clear()
                await self._arrived.wait()
            await self._gather()
            batch = self._next_batch()
            self._last_batch = len(batch)
            self._committing = True
            while True:
                try:
                    settle = await self._commit(batch)
                except StoreFault as fault:
                    await self.store_backoff.failed(fault.__cause__ or fault)
                    continue
                self.store_backoff.ok()
                break
            task = asyncio.create_task(settle)
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)
            self._committing = False
            if len(self.sending) >= self.max_sending:
                await asyncio.wait(self.sending, return_when=asyncio.FIRST_COMPLETED)

    async def _gather(self) -> None:
        """Under load, wait a moment for a fuller batch (see GATHER_SECONDS)."""
        if not self.gather_seconds or self._last_batch < GATHER_WHEN:
            return
        if len(self.queued) >= GATHER_UNTIL:
            return
        # Counted from when the previous batch's steps were done: its COMMIT's fsync, on a
        # thread, overlaps the wait instead of adding to it.
        left = self._applied_at + self.gather_seconds - asyncio.get_running_loop().time()
        if left <= 0:
            return
        self._gathered.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._gathered.wait(), left)

    def _next_batch(self) -> list[Work]:
        """What is queued, up to ``max_batch``; a suspect of a crash goes in a batch of its
        own (what follows it waits for the next batch)."""
        batch = [self.queued.popleft()]
        if batch[0].alone:
            return batch
        while self.queued and len(batch) < self.max_batch and not self.queued[0].alone:
            batch.append(self.queued.popleft())
        return batch

    def idle(self) -> bool:
        """Nothing queued or being committed, and every committed batch published and acked."""
        return not self.queued and not self._committing and not self.sending

    async def _commit(self, batch: list[Work]) -> Coroutine[Any, Any, None]:
        """Apply ``batch`` in one transaction; the coroutine that publishes and acks it.

        The steps run here, the COMMIT on a thread: while the store syncs its file, the loop
        reads deliveries and publishes and acks earlier batches (nothing else touches the
        store meanwhile: a use of it waits for the COMMIT, see store/pending_commit.py).
        Raises :class:`StoreFault` when the store cannot commit (nothing is applied then).
        """
        loop = asyncio.get_running_loop()
        marked = [work.key for work in batch if work.key]
        try:
            with self._applying(marked):
                with self.engine.store.deferred_batch() as pending:
                    outcomes = self._apply(batch)
                self._applied_at = loop.time()
                if pending.needs_commit:
                    try:
                        await loop.run_in_executor(None, pending.commit)
                    finally:  # (cancelled: the COMMIT is waited for all the same)
                        pending.finish()
        except Exception as exc:
            if is_store_fault(exc):
                raise StoreFault(str(exc)) from exc
            log.exception("committing a batch of %d failed; it will be redelivered", len(batch))
            return self._settle(Outcomes(failed=batch))
        if self.guard is not None:
            for work in batch:
                if work.alone:
                    self.guard.survived(work.key)
        if outcomes.busy:
            loop.call_later(BUSY_RETRY_SECONDS, self._requeue, outcomes.busy)
        return self._settle(outcomes)

    def _apply(self, batch: list[Work]) -> Outcomes:
        """Step each message of ``batch`` in the open transaction, sorted by outcome."""
        outcomes = Outcomes()
        # The deletes ride on this commit (rolled back with it: the sweeper resends).
        self.publisher.forget_confirmed()
        for work in batch:
            try:
                ids = work.apply()
            except StartRejected as exc:
                outcomes.rejected.append((work, exc))
                continue
            except ExecutionBusy:  # another replica holds it: apply it again soon
                outcomes.busy.append(work)
                continue
            except Exception as exc:
                if is_store_fault(exc):
                    raise
                # A bug must not take the other messages down.
                log.exception("applying a message from %s failed", work.queue)
                outcomes.failed.append(work)
                continue
            if ids is None:
                log.info("dropped %s", work.describe)
                if work.message.reply_to and replies.is_callback(work.parsed):
                    outcomes.refused.append(work)  # answered TaskDoesNotExist once settled
            outcomes.applied.append((work, ids or []))
        return outcomes

    def _requeue(self, works: list[Work]) -> None:
        """Queue again, unacked and in their order, messages whose execution another replica
        was stepping (it has committed since, or they come back once more)."""
        self.enqueue(works)

    def _applying(self, keys: list[str]) -> AbstractContextManager[None]:
        return nullcontext() if self.guard is None else self.guard.applying(keys)

    async def _settle(self, outcomes: Outcomes) -> None:
        """Publish what the applied steps committed, then ack, dead-letter or requeue."""
        applied, failed = outcomes.applied, outcomes.failed
        try:
            await self.publisher.publish([i for _, ids in applied for i in ids])
        except Exception as exc:
            # Committed but not sent: the sweeper sends it; the redeliveries are duplicates.
            log.warning("publishing failed (%s); the outbox keeps the messages", exc)
            failed = [*failed, *(work for work, _ in applied)]
            applied = []
        await self.acks.ack(work.message for work, _ in applied)
        for work, refusal in outcomes.rejected:
            await self._reject(work.message, work.queue, str(refusal))
            await self._answer(work.message, replies.start_refused(work.parsed, refusal))
        for work in failed:
            await self._nack(work.message)
        for work in outcomes.refused:
            await self._answer(work.message, replies.callback_refused(work.parsed))

    async def _fail_waiting_execution(self, body: bytes, reason: str) -> None:
        """A task result set aside: the execution waiting for it would wait forever, so it
        fails (States.Runtime) saying why and where the result went."""
        try:
            token = messages.parse_task_result(body).task_token
            record = self.engine.store.execution_by_token(token)
            if record is None:
                return
            cause = (
                f"A task result for this execution {reason}; it was dead-lettered to"
                f" {TASK_RESULTS_QUEUE}{DEAD_LETTER_SUFFIX}."
            )
            ids = self.engine.fail_execution(record.state.execution_arn, cause)
            await self.publisher.publish(ids or [])
        except Exception as exc:  # the letter is kept; an operator can look at it
            log.error("failing the execution of a set-aside task result failed: %s", exc)

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


def _identity(message: Delivery) -> dict[str, Any]:
    """The properties that tell two messages with the same body apart."""
    return {
        "message_id": message.message_id,
        "correlation_id": message.correlation_id,
        # The broker adds x-delivery-count and the like to a redelivery: not the sender's.
        "headers": sorted(
            (str(k), str(v)) for k, v in message.headers.items() if not str(k).startswith("x-")
        ),
    }


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        return f"invalid message: {problems}"
    return str(exc)
