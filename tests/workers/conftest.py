"""Fixtures for the worker integration tests: worker processes, a reply queue, function queues."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from tests.workers.support import FunctionQueues, WorkerProcess

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(subprocess_env: dict[str, str], tmp_path: Path) -> Iterator[StartWorker]:
    """Start worker subprocesses; every one is killed when the test ends, pass or fail."""
    started: list[WorkerProcess] = []

    def start(name: str, *args: str, **env: str) -> WorkerProcess:
        log_path = tmp_path / f"worker-{name}-{len(started)}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "workers", name, *args],
            env={**subprocess_env, **env},
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=Path(__file__).resolve().parents[2],
        )
        worker = WorkerProcess(process, log_path, log)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
async def reply_queue(amqp_channel: AbstractChannel) -> AsyncIterator[AbstractQueue]:
    """A durable reply queue owned by the test, deleted afterwards."""
    queue = await amqp_channel.declare_queue(
        f"test.workers.replies.{uuid.uuid4().hex}", durable=True
    )
    try:
        yield queue
    finally:
        await queue.delete(if_unused=False, if_empty=False)


@pytest.fixture
def function_queues(amqp_channel: AbstractChannel) -> Callable[[str], FunctionQueues]:
    """Factory: the queues of function ``name`` (call ``declare_and_purge`` before use)."""
    return lambda name: FunctionQueues(amqp_channel, name)
