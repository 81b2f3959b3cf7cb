"""``python -m workers`` as a real OS process against a real RabbitMQ."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import pytest
from aio_pika.abc import AbstractQueue

from broker import ORIGINAL_QUEUE_HEADER, REASON_HEADER
from messages import TaskFailed, TaskRequest, TaskSucceeded, parse_task_result
from tests.workers.conftest import StartWorker
from tests.workers.support import FunctionQueues, drain, receive, task_request
from workers.callcenter import draw_status, make_rng

pytestmark = pytest.mark.integration

OPEN = "OpenCaseFunction"
Queues = Callable[[str], FunctionQueues]


async def open_queues(function_queues: Queues) -> FunctionQueues:
    queues = function_queues(OPEN)
    await queues.declare_and_purge()
    return queues


async def test_valid_request_is_answered(
    start_worker: StartWorker, function_queues: Queues, reply_queue: AbstractQueue
) -> None:
    queues = await open_queues(function_queues)
    worker = start_worker("open")
    await worker.wait_started()
    request = task_request(OPEN, {"inputCaseID": "001"})
    await queues.publish(request.to_wire(), reply_to=reply_queue.name)

    (reply,) = await receive(reply_queue, 1, timeout=8)
    assert reply.correlation_id == request.task_token
    assert reply.content_type == "application/json"
    result = parse_task_result(reply.body)
    assert result == TaskSucceeded(
        task_token=request.task_token,
        attempt=0,
        output={"Case": "001", "Message": "Case 001: opened..."},
        request_id=result.request_id,
    )
    assert f"consuming lambda.{OPEN}" in worker.log_text()


async def test_poison_messages_are_dead_lettered_and_the_worker_keeps_serving(
    start_worker: StartWorker, function_queues: Queues, reply_queue: AbstractQueue
) -> None:
    queues = await open_queues(function_queues)
    worker = start_worker("OpenCaseFunction")  # the full name works as well as "open"
    await worker.wait_started()
    await queues.require_sole_consumer()
    await queues.publish(b"this is {not json", reply_to=reply_queue.name)
    await queues.publish(b'{"hello": "world"}', reply_to=reply_queue.name)
    no_reply_to = task_request(OPEN, {"inputCaseID": "002"})
    await queues.publish(no_reply_to.to_wire(), reply_to=None)
    valid = task_request(OPEN, {"inputCaseID": "003"})
    await queues.publish(valid.to_wire(), reply_to=reply_queue.name)

    dead = await receive(queues.dead, 3, timeout=8)
    reasons = {message.body: str(message.headers[REASON_HEADER]) for message in dead}
    assert reasons[b"this is {not json"].startswith("body is not JSON")
    assert reasons[b'{"hello": "world"}'].startswith("body is not a TaskRequest")
    assert "executionArn" in reasons[b'{"hello": "world"}']
    assert reasons[no_reply_to.to_wire()].startswith("request has no reply_to")
    assert {message.headers[ORIGINAL_QUEUE_HEADER] for message in dead} == {queues.name}

    (reply,) = await receive(reply_queue, 1, timeout=5)
    result = parse_task_result(reply.body)
    assert isinstance(result, TaskSucceeded)
    assert result.task_token == valid.task_token
    assert worker.process.poll() is None, "the worker must survive poison messages"
    assert worker.log_text().count("dead-lettering") == 3
    assert await queues.ready_count() == 0


async def test_payload_the_model_rejects_is_a_validation_error(
    start_worker: StartWorker, function_queues: Queues, reply_queue: AbstractQueue
) -> None:
    queues = await open_queues(function_queues)
    await start_worker("open").wait_started()
    request = task_request(OPEN, {"caseID": "001"})
    await queues.publish(request.to_wire(), reply_to=reply_queue.name)

    (reply,) = await receive(reply_queue, 1, timeout=8)
    result = parse_task_result(reply.body)
    assert isinstance(result, TaskFailed)
    assert result.error_type == "ValidationError"
    assert "inputCaseID" in result.error_message
    assert result.task_token == request.task_token


async def test_sigterm_stops_gracefully_and_loses_nothing(
    start_worker: StartWorker, function_queues: Queues, reply_queue: AbstractQueue
) -> None:
    queues = await open_queues(function_queues)
    requests = [task_request(OPEN, {"inputCaseID": str(n)}) for n in range(150)]
    for request in requests:
        await queues.publish(request.to_wire(), reply_to=reply_queue.name)
    worker = start_worker("open", "--prefetch", "20")
    # Signal handlers are installed before the "started" line; a SIGTERM earlier would kill.
    await worker.wait_started()
    await queues.require_sole_consumer()
    # Once the first answer is back the worker is working through the backlog.
    first = await receive(reply_queue, 1, timeout=8)

    worker.process.send_signal(signal.SIGTERM)
    returncode = await asyncio.to_thread(worker.process.wait, 5)
    assert returncode == 0, worker.log_text()
    assert "stopping OpenCaseFunction" in worker.log_text()

    replies = first + await drain(reply_queue)
    answered = {parse_task_result(m.body).task_token for m in replies}
    queued = {TaskRequest.from_wire(m.body).task_token for m in await drain(queues.queue)}
    everything = {request.task_token for request in requests}
    # Every request was either answered or handed back to the queue, and none was both.
    assert answered | queued == everything
    assert not answered & queued
    assert len(replies) == len(answered), "one answer per request"


async def test_seeded_work_worker_draws_the_seeded_sequence(
    start_worker: StartWorker, function_queues: Queues, reply_queue: AbstractQueue
) -> None:
    queues = function_queues("WorkOnCaseFunction")
    await queues.declare_and_purge()
    requests = [
        task_request("WorkOnCaseFunction", {"Case": str(n), "Message": ""}) for n in range(16)
    ]
    for request in requests:
        await queues.publish(request.to_wire(), reply_to=reply_queue.name)
    await start_worker("work", WORKER_SEED="1234").wait_started()
    await queues.require_sole_consumer()

    replies = await receive(reply_queue, len(requests), timeout=8)
    statuses: dict[str, object] = {}
    for reply in replies:
        result = parse_task_result(reply.body)
        assert isinstance(result, TaskSucceeded)
        assert isinstance(result.output, dict)
        statuses[result.task_token] = result.output["Status"]
    rng = make_rng("1234")
    expected = [draw_status(rng) for _ in requests]
    assert [statuses[request.task_token] for request in requests] == expected
