"""The calls queue: service calls the orchestrator makes itself (mocked tasks, ``aws`` routes).

The engine commits a call as an outbox message to ``orchestrator.calls``, like a task for a
worker; this consumer carries it out in a thread (botocore is synchronous), publishes its
results to the task-results queue with confirms, then acks. A crash in between redelivers
the call, which is made again (at least once, as AWS's own retries of a call may be); the
engine applies a (token, attempt) result once. A bad message is dead-lettered with its reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractRobustChannel
from pydantic import ValidationError

import messages
from broker import TASK_RESULTS_QUEUE, Delivery, Topology, oversized, publish_json
from broker.topology import CALLS_QUEUE
from orchestrator.asl import errors
from orchestrator.asl.resources import function_name_of
from orchestrator.engine import Engine, internal_cause
from orchestrator.integrations import nested
from orchestrator.integrations.rabbitmq_target import RabbitMqTarget
from orchestrator.integrations.targets import Targets

log = logging.getLogger(__name__)
# Calls carried out at once; each holds a thread while its service answers.
MAX_CONCURRENT_CALLS = 32


class Calls:
    """Consumes :data:`CALLS_QUEUE` and answers each call on the task-results queue.

    Nested executions (``states:startExecution``) start in the engine, here on the event
    loop as the API starts executions; the rabbitmq target publishes on its own channel;
    every other call runs in a thread.
    """

    def __init__(
        self,
        targets: Targets,
        topology: Topology,
        engine: Engine,
        publish: Callable[[list[int]], Awaitable[None]],
        rabbit_channel: AbstractRobustChannel | None = None,
    ) -> None:
        self.targets = targets
        self.topology = topology
        self.engine = engine
        self.publish = publish
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_CALLS)
        self._rabbit_channel = rabbit_channel
        self._rabbit: RabbitMqTarget | None = None

    async def on_call(self, message: Delivery) -> None:
        """Carry out one call; see the module's docstring."""
        reason = oversized(message.body)
        if reason is None:
            try:
                request = messages.IntegrationRequest.from_wire(message.body)
            except (ValidationError, ValueError) as exc:
                reason = f"body is not an IntegrationRequest: {exc}"[:2000]
        if reason is not None:
            log.warning("dead-lettering a message of %s: %s", CALLS_QUEUE, reason)
            await self.topology.dead_letter(message, CALLS_QUEUE, reason)
            await message.ack()
            return
        results: list[messages.AnyTaskResult] | None
        ids: list[int] = []
        mocked = self.targets.mock is not None and self.targets.mock.claims(request)
        target = None if mocked else self._target(request)
        if target == "rabbitmq":
            results = await (await self._rabbit_target()).call(request)
        elif nested.is_nested(request) and target == "engine":
            try:
                results, ids = self.engine.start_nested(request)
            except Exception as exc:  # a fault of ours: the task fails, the service goes on
                log.exception("starting the nested execution of %s failed", request.execution_arn)
                results, ids = [self._internal_failure(request, exc)], []
        else:
            loop = asyncio.get_running_loop()

            def emit(result: messages.AnyTaskResult) -> None:  # from the call's thread
                asyncio.run_coroutine_threadsafe(
                    self._answer(message, request, result), loop
                ).result()

            async with self._slots:
                results = await asyncio.to_thread(self.targets.call, request, emit)
        if results is None:
            results = [
                messages.TaskCallFailed(
                    task_token=request.task_token,
                    attempt=request.attempt,
                    error=errors.RUNTIME,
                    cause=f"No target carries {request.resource} in this orchestrator yet",
                )
            ]
        for result in results:
            await self._answer(message, request, result)
        # The child's own messages after the parent's TaskSubmitted: a child that ends in its
        # first step sends its end to the parent's task, which must come second.
        await self.publish(ids)
        await message.ack()

    def _target(self, request: messages.IntegrationRequest) -> str:
        route = self.targets.routing.route(
            request.integration,
            request.service,
            request.action,
            request.pattern,
            function_name_of(request.resource),
        )
        return route.target

    async def _rabbit_target(self) -> RabbitMqTarget:
        """The rabbitmq target on the current channel (a reopened channel gets a new one)."""
        if self._rabbit_channel is None:
            raise RuntimeError("the rabbitmq target has no channel")
        underlay = await self._rabbit_channel.get_underlay_channel()
        if self._rabbit is None or self._rabbit.channel is not underlay:
            self._rabbit = RabbitMqTarget(underlay, Topology(self._rabbit_channel))
        return self._rabbit

    @staticmethod
    def _internal_failure(
        request: messages.IntegrationRequest, exc: Exception
    ) -> messages.TaskCallFailed:
        return messages.TaskCallFailed(
            task_token=request.task_token,
            attempt=request.attempt,
            error=errors.RUNTIME,
            cause=internal_cause(f"calling {request.resource}", exc),
        )

    @staticmethod
    async def _answer(
        message: Delivery, request: messages.IntegrationRequest, result: messages.AnyTaskResult
    ) -> None:
        await publish_json(
            message.channel,
            result.to_wire(),
            routing_key=TASK_RESULTS_QUEUE,
            correlation_id=request.task_token,
        )
