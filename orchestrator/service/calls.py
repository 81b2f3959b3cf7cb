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

from pydantic import ValidationError

import messages
from broker import TASK_RESULTS_QUEUE, Delivery, Topology, oversized, publish_json
from broker.topology import CALLS_QUEUE
from orchestrator.asl import errors
from orchestrator.integrations.targets import Targets

log = logging.getLogger(__name__)
# Calls carried out at once; each holds a thread while its service answers.
MAX_CONCURRENT_CALLS = 32


class Calls:
    """Consumes :data:`CALLS_QUEUE` and answers each call on the task-results queue."""

    def __init__(self, targets: Targets, topology: Topology) -> None:
        self.targets = targets
        self.topology = topology
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_CALLS)

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
        async with self._slots:
            results = await asyncio.to_thread(self.targets.call, request)
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
            await publish_json(
                message.channel,
                result.to_wire(),
                routing_key=TASK_RESULTS_QUEUE,
                correlation_id=request.task_token,
            )
        await message.ack()
