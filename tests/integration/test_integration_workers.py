"""Integration workers against a real RabbitMQ: in-process on queues of the test's own, and
``python -m workers.integrations_main`` as a real OS process serving the example table."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from broker import DEAD_LETTER_SUFFIX, ORIGINAL_QUEUE_HEADER, REASON_HEADER, Topology
from broker.connection import BrokerUnreachable
from broker.topology import integration_queue
from messages import AnyTaskResult, IntegrationRequest, JsonValue, parse_task_result
from messages.tasks import TaskCallFailed, TaskSubmitted, TaskSucceeded
from tests.workers.support import WorkerProcess, receive
from tests.workers.test_integrations import integration_request
from workers.integration_consumer import serve_integrations
from workers.integrations import Integration, IntegrationContext, IntegrationError

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


class Queues:
    """The work and dead-letter queues of integrations, declared and purged for one test."""

    def __init__(self, channel: AbstractChannel, *names: str) -> None:
        self.channel = channel
        self.names = names
        self.work: dict[str, AbstractQueue] = {}
        self.dead: dict[str, AbstractQueue] = {}

    async def declare_and_purge(self) -> None:
        topology = Topology(self.channel)
        for name in self.names:
            self.work[name] = await topology.work_queue(name)
            self.dead[name] = await self.channel.declare_queue(
                name + DEAD_LETTER_SUFFIX, passive=True
            )
            await self.work[name].purge()
            await self.dead[name].purge()

    async def delete(self) -> None:
        for queue in [*self.work.values(), *self.dead.values()]:
            await queue.delete(if_unused=False, if_empty=False)

    async def publish(self, name: str, body: bytes, *, reply_to: str | None) -> None:
        message = aio_pika.Message(
            body=body,
            reply_to=reply_to,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self.channel.default_exchange.publish(message, routing_key=name)


@pytest.fixture
async def replies(amqp_channel: AbstractChannel) -> AsyncIterator[AbstractQueue]:
    """A temporary reply queue, deleted afterwards."""
    queue = await amqp_channel.declare_queue(f"test.integrations.replies.{uuid.uuid4().hex}")
    try:
        yield queue
    finally:
        await queue.delete(if_unused=False, if_empty=False)


@pytest.fixture
async def private_service(amqp_channel: AbstractChannel) -> AsyncIterator[tuple[str, Queues]]:
    """A service name of the test's own, and the queues of its ``call`` and ``slow`` actions:
    no other worker consumes them."""
    service = f"test-{uuid.uuid4().hex[:12]}"
    queues = Queues(amqp_channel, *(integration_queue(service, a) for a in ("call", "slow")))
    await queues.declare_and_purge()
    try:
        yield service, queues
    finally:
        await queues.delete()


def scripted(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
    """Does what the parameters say: answer, fail by name or plainly, answer non-JSON."""
    assert isinstance(parameters, dict)
    match parameters["do"]:
        case "named":
            raise IntegrationError("DynamoDB.ConditionalCheckFailedException", "taken")
        case "plain":
            raise RuntimeError("disk on fire")
        case "marshal":
            return {1, 2}  # type: ignore[return-value]
        case _:
            return {"echo": parameters["do"], "pattern": context.pattern}


async def results_by_token(queue: AbstractQueue, count: int) -> dict[str, AnyTaskResult]:
    """The next ``count`` replies on ``queue``, by their correlation id (checked against the
    result's own token)."""
    got = {}
    for reply in await receive(queue, count, timeout=10):
        result = parse_task_result(reply.body)
        assert reply.correlation_id == result.task_token
        got[result.task_token] = result
    return got


async def test_each_outcome_is_replied_to_the_reply_queue(
    amqp_url: str, private_service: tuple[str, Queues], replies: AbstractQueue
) -> None:
    service, queues = private_service
    queue = integration_queue(service, "call")
    requests = {
        outcome: integration_request(service, "call", {"do": outcome}, pattern=pattern)
        for outcome, pattern in [
            ("answer", ""),
            ("named", ""),
            ("plain", ""),
            ("marshal", ""),
            ("token", ".waitForTaskToken"),
        ]
    }
    for request in requests.values():
        await queues.publish(queue, request.to_wire(), reply_to=replies.name)

    stop, ready = asyncio.Event(), asyncio.Event()
    table = {(service, "call"): Integration(f"{service}:call", scripted)}
    serving = asyncio.create_task(serve_integrations(table, url=amqp_url, stop=stop, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        got = await results_by_token(replies, len(requests))
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)

    def of(outcome: str) -> AnyTaskResult:
        return got[requests[outcome].task_token]

    token = requests["answer"].task_token
    assert of("answer") == TaskSucceeded(
        task_token=token, attempt=0, output={"echo": "answer", "pattern": ""}
    )
    named = of("named")
    assert isinstance(named, TaskCallFailed)
    assert (named.error, named.cause) == ("DynamoDB.ConditionalCheckFailedException", "taken")
    plain = of("plain")
    assert isinstance(plain, TaskCallFailed)
    assert (plain.error, plain.cause) == ("RuntimeError", "disk on fire")
    marshal = of("marshal")
    assert isinstance(marshal, TaskCallFailed) and marshal.error == "Runtime.MarshalError"
    submitted = of("token")
    assert isinstance(submitted, TaskSubmitted)
    assert submitted.output == {"echo": "token", "pattern": ".waitForTaskToken"}
    assert (await queues.work[queue].declare()).message_count == 0, "every request is acked"


async def test_bad_messages_are_dead_lettered_with_their_reason(
    amqp_url: str, private_service: tuple[str, Queues], replies: AbstractQueue
) -> None:
    service, queues = private_service
    queue = integration_queue(service, "call")
    no_reply_to = integration_request(service, "call", {"do": "answer"})
    valid = integration_request(service, "call", {"do": "answer"})
    await queues.publish(queue, b"this is {not json", reply_to=replies.name)
    await queues.publish(queue, b'{"functionName": "Open"}', reply_to=replies.name)
    await queues.publish(queue, no_reply_to.to_wire(), reply_to=None)
    await queues.publish(queue, valid.to_wire(), reply_to=replies.name)

    stop = asyncio.Event()
    table = {(service, "call"): Integration(f"{service}:call", scripted)}
    serving = asyncio.create_task(serve_integrations(table, url=amqp_url, prefetch=1, stop=stop))
    try:
        dead = await receive(queues.dead[queue], 3, timeout=10)
        got = await results_by_token(replies, 1)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)

    reasons = {message.body: str(message.headers[REASON_HEADER]) for message in dead}
    assert reasons[b"this is {not json"].startswith("body is not JSON")
    assert reasons[b'{"functionName": "Open"}'].startswith("body is not an IntegrationRequest")
    assert "executionArn" in reasons[b'{"functionName": "Open"}']
    assert reasons[no_reply_to.to_wire()].startswith("request has no reply_to")
    assert {message.headers[ORIGINAL_QUEUE_HEADER] for message in dead} == {queue}
    assert isinstance(got[valid.task_token], TaskSucceeded), "the worker kept serving"


class Overlap:
    """Counts the threads inside ``with`` it at once; ``peak`` is the most there ever were."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self._lock:
            self._inside += 1
            self.peak = max(self.peak, self._inside)

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._inside -= 1


async def test_concurrency_bounds_the_calls_of_all_queues_together(
    amqp_url: str, private_service: tuple[str, Queues], replies: AbstractQueue
) -> None:
    service, queues = private_service
    calls = Overlap()

    def slow(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
        with calls:
            time.sleep(0.2)
        return parameters

    for n in range(8):
        action = ("call", "slow")[n % 2]
        request = integration_request(service, action, n)
        await queues.publish(
            integration_queue(service, action), request.to_wire(), reply_to=replies.name
        )
    stop = asyncio.Event()
    table = {
        (service, action): Integration(f"{service}:{action}", slow) for action in ("call", "slow")
    }
    serving = asyncio.create_task(
        serve_integrations(table, url=amqp_url, prefetch=4, concurrency=3, stop=stop)
    )
    try:
        got = await results_by_token(replies, 8)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)
    assert sorted(result.output for result in got.values()) == list(range(8))  # type: ignore[union-attr,type-var]
    assert calls.peak == 3, "three calls at once over both queues, never more"


async def test_a_refused_login_is_raised_as_broker_unreachable(amqp_url: str) -> None:
    parts = urlsplit(amqp_url)
    refused = parts._replace(
        netloc=f"nobody-{uuid.uuid4().hex[:6]}:wrong@{parts.hostname}:{parts.port or 5672}"
    )
    table = {("sns", "publish"): Integration("sns:publish", scripted)}
    with pytest.raises(BrokerUnreachable, match="refused the login"):
        await asyncio.wait_for(
            serve_integrations(table, url=urlunsplit(refused), stop=asyncio.Event()), 10
        )


# -- the command line serving the example module ----------------------------------------------


@pytest.fixture
async def table_queues(amqp_channel: AbstractChannel) -> Queues:
    """The example's queues, purged (they are the real ones: a process serves them)."""
    queues = Queues(
        amqp_channel,
        integration_queue("dynamodb", "putItem"),
        integration_queue("dynamodb", "getItem"),
    )
    await queues.declare_and_purge()
    return queues


@pytest.fixture
def integrations_process(
    table_queues: Queues, subprocess_env: dict[str, str], tmp_path: Path
) -> Iterator[WorkerProcess]:
    """``python -m workers.integrations_main workers.examples.dynamodb_table`` (started once
    its queues are purged), killed at the end if it still runs."""
    log_path = tmp_path / "integrations.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "workers.integrations_main", "workers.examples.dynamodb_table"],
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        cwd=REPO,
    )
    worker = WorkerProcess(process, log_path, log)
    try:
        yield worker
    finally:
        worker.stop()


async def wait_for_line(worker: WorkerProcess, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in worker.log_text():
        if worker.process.poll() is not None:
            pytest.fail(f"exited with {worker.process.returncode}:\n{worker.log_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {text!r} within {timeout}s:\n{worker.log_text()}")
        await asyncio.sleep(0.05)


async def call(queues: Queues, replies: AbstractQueue, request: IntegrationRequest) -> JsonValue:
    """Publish ``request`` to its queue; the output of its reply (which must succeed)."""
    queue = integration_queue(request.service, request.action)
    await queues.publish(queue, request.to_wire(), reply_to=replies.name)
    got = await results_by_token(replies, 1)
    result = got[request.task_token]
    assert isinstance(result, TaskSucceeded), result
    return result.output


async def test_the_cli_serves_the_example_table_until_sigterm(
    integrations_process: WorkerProcess, table_queues: Queues, replies: AbstractQueue
) -> None:
    await wait_for_line(integrations_process, "serving 2 integration queues")
    for queue in table_queues.work.values():
        declared = await queue.declare()
        assert declared.consumer_count == 1, f"another process consumes {queue.name} too"

    table = f"Cases-{uuid.uuid4().hex[:8]}"
    item: JsonValue = {"id": {"S": "001"}, "status": {"S": "open"}}
    put = integration_request("dynamodb", "putItem", {"TableName": table, "Item": item})
    assert await call(table_queues, replies, put) == {}
    key: JsonValue = {"TableName": table, "Key": {"id": {"S": "001"}}}
    get = integration_request("dynamodb", "getItem", key)
    assert await call(table_queues, replies, get) == {"Item": item}

    integrations_process.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(integrations_process.process.wait, 15) == 0
    assert "received SIGTERM" in integrations_process.log_text()
