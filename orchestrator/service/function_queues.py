"""Watching the queues: depth and consumers for /metrics, and functions nobody serves.

A task sent to a function that no worker consumes would wait forever with nobody told
(a misspelt function name, a worker that never started). So every few seconds the service
reads each queue's ready messages and consumers from the broker (a fresh passive declare on
the channel under aio-pika's, which would answer a passive declare from its cache):

- the gauges ``sfn_queue_messages`` and ``sfn_queue_consumers`` follow them;
- a function queue with tasks waiting and no consumer is logged as a warning, naming the
  function and what to do, at once and then once a minute while it lasts;
- with ``missing_function="fail"`` (``SFN_MISSING_FUNCTION=fail``), AWS's behaviour: once a
  function queue has had no consumer for ``grace`` seconds, its waiting tasks fail with
  ``Lambda.ResourceNotFoundException``, as invoking a function that does not exist does.

A task request for a function that has no queue at all (a ``lambda:invoke`` FunctionName
that no worker ever served) is returned by the broker; :func:`fail_unroutable` fails that
task with the same error at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import aiormq
from aio_pika.abc import AbstractRobustChannel
from pydantic import ValidationError

import messages
from broker import Delivery
from broker.topology import FUNCTION_QUEUE_PREFIX
from orchestrator import metrics
from orchestrator.engine import Engine
from orchestrator.local_runner import RESOURCE_NOT_FOUND, function_not_found
from orchestrator.store import OutboxMessage

log = logging.getLogger(__name__)
MissingFunction = Literal["wait", "fail"]
# A warning about a queue nobody consumes is repeated this often while it lasts.
WARN_EVERY_SECONDS = 60.0
# Tasks failed per queue and pass in "fail" mode: the loop yields in between.
FAIL_BATCH = 100

Publish = Callable[[list[int]], Awaitable[None]]


@dataclass
class _Unserved:
    since: float  # monotonic time the queue was first seen with no consumer
    warned: float = -WARN_EVERY_SECONDS


@dataclass
class FunctionQueues:
    """Samples the queues, warns about unserved functions, and fails their tasks if told.

    ``channel`` is its own: a passive declare of a missing queue closes the channel it runs
    on, and the consumers' channel acks its deliveries in runs that must not cover the
    requests this takes with ``basic.get``.
    """

    channel: AbstractRobustChannel
    engine: Engine
    publish: Publish
    queues: Callable[[], Iterable[str]]  # the queues to watch, function queues among them
    missing_function: MissingFunction = "wait"
    grace: float = 10.0
    every: float = 2.0
    unserved: dict[str, _Unserved] = field(default_factory=dict)
    # The last sample of each queue: (messages ready, consumers, epoch seconds), for the
    # console's queues page.
    samples: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    async def run(self) -> None:
        """Sample every ``every`` seconds until cancelled."""
        while True:
            try:
                await self.sample()
            except Exception as exc:  # a sample missed is no reason to stop serving
                log.debug("sampling the queues failed: %s", exc)
            await asyncio.sleep(self.every)

    async def sample(self) -> None:
        """One pass over the queues."""
        channel = await self.channel.get_underlay_channel()
        for name in sorted(set(self.queues())):
            try:
                declared = await channel.queue_declare(name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                # The queue is gone (deleted by hand): the passive declare closed the channel;
                # the robust channel reopens and declares it again.
                log.warning("queue %s does not exist; it will be declared again", name)
                return
            ready = int(declared.message_count or 0)
            consumers = int(declared.consumer_count or 0)
            metrics.QUEUE_MESSAGES.labels(name).set(ready)
            self.samples[name] = (ready, consumers, time.time())
            metrics.QUEUE_CONSUMERS.labels(name).set(consumers)
            if name.startswith(FUNCTION_QUEUE_PREFIX):
                await self._check(name, ready, consumers)

    async def _check(self, queue: str, ready: int, consumers: int) -> None:
        function = queue.removeprefix(FUNCTION_QUEUE_PREFIX)
        if consumers or not ready:
            gone = self.unserved.pop(queue, None)
            if gone is not None:
                self._record(function, None)
                if consumers:
                    log.info("queue %s has a consumer again", queue)
            return
        now = time.monotonic()
        if queue not in self.unserved:
            self._record(function, time.time())
        entry = self.unserved.setdefault(queue, _Unserved(now))
        if now - entry.warned >= WARN_EVERY_SECONDS:
            entry.warned = now
            what = (
                f"they fail with {RESOURCE_NOT_FOUND} after {self.grace:g} s"
                if self.missing_function == "fail"
                else "they wait until one starts (SFN_MISSING_FUNCTION=fail makes them fail"
                f" with {RESOURCE_NOT_FOUND}, as on AWS)"
            )
            log.warning(
                "function %s has no worker: %d task(s) wait on queue %s and nothing consumes"
                " it; start one (python -m workers %s --import MODULE) or check the function"
                " name; %s",
                function,
                ready,
                queue,
                function,
                what,
            )
        if self.missing_function == "fail" and now - entry.since >= self.grace:
            await self._fail_waiting(queue, function)

    def _record(self, function: str, since: float | None) -> None:
        """Keep the store's list of unserved functions (``describe`` reads it)."""
        try:
            self.engine.store.set_unserved(function, since)
        except Exception as exc:  # a full disk: the log line and the metric still tell
            log.debug("recording unserved function %s failed: %s", function, exc)

    async def _fail_waiting(self, queue: str, function: str) -> None:
        """Take the queue's waiting task requests and fail each task (AWS: the function
        does not exist)."""
        channel = await self.channel.get_underlay_channel()
        for _ in range(FAIL_BATCH):
            got = await channel.basic_get(queue, no_ack=False)
            if got.delivery_tag is None:  # Basic.GetEmpty
                return
            delivery = Delivery(got)
            try:
                request = messages.TaskRequest.from_wire(delivery.body)
            except ValidationError:
                await delivery.nack(requeue=True)  # not ours to judge: the worker dead-letters
                return
            cause = function_not_found(request.execution_arn, function)
            try:
                ids = self.engine.fail_task(
                    request.task_token, request.attempt, RESOURCE_NOT_FOUND, cause
                )
            except Exception as exc:  # the store may be failing: leave the task waiting
                log.warning("failing a task of %s failed: %s", request.execution_arn, exc)
                await delivery.nack(requeue=True)
                return
            log.warning(
                "task %s of %s failed with %s: no worker served function %s for %g s",
                request.state_name,
                request.execution_arn,
                RESOURCE_NOT_FOUND,
                function,
                self.grace,
            )
            with contextlib.suppress(Exception):  # committed: the sweeper publishes it
                await self.publish(ids or [])
            await delivery.ack()


async def fail_unroutable(engine: Engine, publish: Publish, row: OutboxMessage) -> None:
    """A task request the broker returned (no queue for its function): fail the task with
    ``Lambda.ResourceNotFoundException`` and drop the row, in one commit."""
    try:
        request = messages.TaskRequest.from_wire(row.body)
    except ValidationError:
        log.error("outbox row %d for %s is not a task request", row.id, row.routing_key)
        return
    cause = function_not_found(request.execution_arn, request.function_name)
    with engine.store.batch():
        ids = engine.fail_task(request.task_token, request.attempt, RESOURCE_NOT_FOUND, cause)
        engine.store.delete_outbox([row.id])
    log.warning(
        "task %s of %s failed with %s: no queue %s exists (no worker ever served function %s)",
        request.state_name,
        request.execution_arn,
        RESOURCE_NOT_FOUND,
        row.routing_key,
        request.function_name,
    )
    await publish(ids or [])
