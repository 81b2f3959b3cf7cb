"""The consumer loop run in-process, with functions of the test's own on their own queues."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from aio_pika.abc import AbstractQueue

from broker import REASON_HEADER
from messages import JsonValue, TaskSucceeded, parse_task_result
from tests.workers.support import FunctionQueues, receive, task_request
from workers.consumer import Worker, serve
from workers.runtime import Context, Function

pytestmark = pytest.mark.integration

Queues = Callable[[str], FunctionQueues]


@pytest.fixture
async def private_queues(function_queues: Queues) -> AsyncIterator[FunctionQueues]:
    """The queues of a function name used by this test alone; deleted afterwards."""
    queues = function_queues(f"WorkersTest-{uuid.uuid4().hex[:12]}")
    await queues.declare_and_purge()
    try:
        yield queues
    finally:
        await queues.queue.delete(if_unused=False, if_empty=False)
        await queues.dead.delete(if_unused=False, if_empty=False)


async def test_stop_finishes_the_request_in_flight_and_requeues_the_buffered_ones(
    amqp_url: str, private_queues: FunctionQueues, reply_queue: AbstractQueue
) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(event: JsonValue, context: Context) -> JsonValue:
        started.set()
        release.wait(5)  # held until the test has asked the worker to stop
        return event

    name = private_queues.name.removeprefix("lambda.")
    requests = [task_request(name, n) for n in range(5)]
    for request in requests:
        await private_queues.publish(request.to_wire(), reply_to=reply_queue.name)

    stop, ready = asyncio.Event(), asyncio.Event()
    fn = Function.from_handler(name, slow)
    serving = asyncio.create_task(serve(fn, url=amqp_url, prefetch=5, stop=stop, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        assert await asyncio.to_thread(started.wait, 5)
        stop.set()
        await asyncio.sleep(0.2)  # the worker now waits for the handler in flight
        assert not serving.done()
        release.set()
        await asyncio.wait_for(serving, 5)
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(serving, 5)

    (reply,) = await receive(reply_queue, 1)
    result = parse_task_result(reply.body)
    assert isinstance(result, TaskSucceeded)
    assert (result.task_token, result.attempt, result.output) == (requests[0].task_token, 0, 0)
    # A requeue (nack) is not confirmed: the queue's count catches up a moment later.
    for _ in range(50):
        if await private_queues.ready_count() == 4:
            break
        await asyncio.sleep(0.1)
    assert await private_queues.ready_count() == 4, "buffered requests go back to the queue"
    assert await reply_queue.get(no_ack=True, fail=False) is None


async def test_unroutable_reply_dead_letters_the_request(
    amqp_url: str, private_queues: FunctionQueues
) -> None:
    name = private_queues.name.removeprefix("lambda.")
    request = task_request(name, {"x": 1})
    await private_queues.publish(request.to_wire(), reply_to=f"no-such-queue-{uuid.uuid4().hex}")

    stop = asyncio.Event()
    fn = Function.from_handler(name, lambda event, context: event)
    serving = asyncio.create_task(serve(fn, url=amqp_url, prefetch=1, stop=stop))
    try:
        (dead,) = await receive(private_queues.dead, 1)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 5)
    assert dead.body == request.to_wire()
    assert "does not exist" in str(dead.headers[REASON_HEADER])
    assert await private_queues.ready_count() == 0


async def test_stop_before_connecting_returns_promptly() -> None:
    stop = asyncio.Event()
    stop.set()
    fn = Function.from_handler("Never", lambda event, context: None)
    # Nothing listens on port 1: without the stop this would retry for a minute.
    await asyncio.wait_for(serve(fn, url="amqp://guest:guest@127.0.0.1:1/", stop=stop), 5)


def test_prefetch_must_be_positive() -> None:
    fn = Function.from_handler("Zero", lambda event, context: None)
    with pytest.raises(ValueError, match="prefetch"):
        Worker(fn, prefetch=0)


async def test_concurrency_overlaps_requests_up_to_its_limit(
    amqp_url: str, private_queues: FunctionQueues, reply_queue: AbstractQueue
) -> None:
    lock = threading.Lock()
    running, peak = [0], [0]

    def slow(event: JsonValue, context: Context) -> JsonValue:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        threading.Event().wait(0.3)
        with lock:
            running[0] -= 1
        return event

    name = private_queues.name.removeprefix("lambda.")
    for n in range(8):
        await private_queues.publish(task_request(name, n).to_wire(), reply_to=reply_queue.name)
    stop = asyncio.Event()
    fn = Function.from_handler(name, slow)
    serving = asyncio.create_task(serve(fn, url=amqp_url, prefetch=8, concurrency=3, stop=stop))
    try:
        replies = await receive(reply_queue, 8, timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)
    assert sorted(parse_task_result(r.body).output for r in replies) == list(range(8))  # type: ignore[union-attr,type-var]
    assert peak[0] == 3, "three at once, never more"


def test_concurrency_above_the_prefetch_is_refused() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Worker(Function.from_handler("F", lambda e, c: e), prefetch=2, concurrency=3)


@pytest.mark.parametrize("blocks", [True, False])
async def test_a_blocking_handler_runs_in_a_thread_and_a_non_blocking_one_on_the_loop(
    amqp_url: str, private_queues: FunctionQueues, reply_queue: AbstractQueue, blocks: bool
) -> None:
    def where(event: JsonValue, context: Context) -> JsonValue:
        return threading.current_thread() is threading.main_thread()

    name = private_queues.name.removeprefix("lambda.")
    await private_queues.publish(task_request(name, None).to_wire(), reply_to=reply_queue.name)
    stop = asyncio.Event()
    fn = Function.from_handler(name, where, blocks=blocks)
    serving = asyncio.create_task(serve(fn, url=amqp_url, prefetch=1, stop=stop))
    try:
        (reply,) = await receive(reply_queue, 1)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 5)
    result = parse_task_result(reply.body)
    assert isinstance(result, TaskSucceeded)
    assert result.output is (not blocks), "on the event loop's thread exactly when it never waits"
