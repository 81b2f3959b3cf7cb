"""Helpers for the worker integration tests: worker subprocesses, queues, receiving."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from subprocess import Popen
from typing import IO

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from broker import DEAD_LETTER_SUFFIX, Topology, function_queue
from messages import JsonValue, TaskRequest


class WorkerProcess:
    """A ``python -m workers NAME`` subprocess whose stderr goes to a file we can read."""

    def __init__(self, process: Popen[bytes], log_path: Path, log: IO[bytes]) -> None:
        self.process = process
        self.log_path = log_path
        self._log = log

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_started(self, timeout: float = 8.0) -> None:
        """Wait for the worker's "started" line: its consumer is then registered."""
        deadline = time.monotonic() + timeout
        while "started " not in self.log_text():
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"worker did not start within {timeout}s:\n{self.log_text()}")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        """Kill the process if it still runs and close its log."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self._log.close()


class FunctionQueues:
    """A function's work queue and dead-letter queue, declared and purged for one test."""

    def __init__(self, channel: AbstractChannel, name: str) -> None:
        self.channel = channel
        self.name = function_queue(name)
        self.topology = Topology(channel)

    async def declare_and_purge(self) -> None:
        self.queue = await self.topology.work_queue(self.name)
        self.dead = await self.channel.declare_queue(self.name + DEAD_LETTER_SUFFIX, passive=True)
        await self.queue.purge()
        await self.dead.purge()

    async def ready_count(self) -> int:
        """Messages ready in the work queue (not those delivered and unacked)."""
        result = await self.queue.declare()
        return result.message_count or 0

    async def require_sole_consumer(self) -> None:
        """Skip the test when a process other than ours consumes this queue too.

        The broker may be shared with other test runs; a second consumer would take some of
        the test's messages, which says nothing about the code under test.
        """
        result = await self.queue.declare()
        if (result.consumer_count or 0) > 1:
            message = f"another consumer shares {self.name} on this broker"
            if os.environ.get("CI"):  # CI's broker is ours alone: a stray consumer is a bug
                pytest.fail(message)
            pytest.skip(message)

    async def publish(self, body: bytes, *, reply_to: str | None) -> None:
        message = aio_pika.Message(
            body=body,
            reply_to=reply_to,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self.channel.default_exchange.publish(message, routing_key=self.name)


def task_request(
    function_name: str, payload: JsonValue, *, token: str | None = None
) -> TaskRequest:
    """A request as the orchestrator would send it."""
    return TaskRequest(
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:CallCenterStateMachine:t",
        execution_name="t",
        state_machine_name="CallCenterStateMachine",
        state_name="Open Case",
        function_name=function_name,
        task_token=token or uuid.uuid4().hex,
        attempt=0,
        payload=payload,
    )


async def receive(
    queue: AbstractQueue, count: int, timeout: float = 5.0
) -> list[AbstractIncomingMessage]:
    """Take ``count`` messages off ``queue`` (acked), failing after ``timeout`` seconds."""
    received: list[AbstractIncomingMessage] = []
    deadline = time.monotonic() + timeout
    while len(received) < count:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            received.append(message)
            continue
        if time.monotonic() > deadline:
            pytest.fail(f"got {len(received)} of {count} messages from {queue.name} in {timeout}s")
        await asyncio.sleep(0.05)
    return received


async def drain(queue: AbstractQueue) -> list[AbstractIncomingMessage]:
    """Take every message that is ready on ``queue`` now."""
    taken: list[AbstractIncomingMessage] = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        taken.append(message)
    return taken
