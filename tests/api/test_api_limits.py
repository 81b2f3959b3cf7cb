"""What a client can make the API read, hold or keep open is bounded.

Request bodies are capped before they are read; connections are capped and closed when they
send nothing, or send a request too slowly; JSON nested too deep is refused wherever it
enters; and a fault of ours is a clean AWS-shaped 500, never a traceback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import select
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from orchestrator.api.app import MAX_REQUEST_BYTES
from orchestrator.api.connections import ConnectionLimits
from orchestrator.api.server import ApiServer
from tests.api.inprocess import InProcessApi, asgi_call, in_process_api
from tests.api.test_boto3 import free_port
from tests.processes import Service, peak_rss_mb, start_orchestrator

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/limits"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@dataclass(frozen=True)
class Running:
    """The orchestrator process and its API port."""

    service: Service
    port: int


@pytest.fixture(scope="module")
def service(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("limits")
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env.pop("SFN_ACCESS_KEY_ID", None)
    port = free_port()
    service = start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port)
    try:
        yield Running(service, port)
    finally:
        service.stop()


def client(port: int) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )


def request_head(port: int, length: int | None, target: str = "ListStateMachines") -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-amz-json-1.0\r\n"
        f"X-Amz-Target: AWSStepFunctions.{target}\r\n{framing}\r\n\r\n"
    ).encode()


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body of the one response on ``sock``."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of the response"
        body += chunk
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (within read_response's timeout). A server that
    closes with part of the request unread makes the kernel send a reset instead of an end
    of stream; both are a close."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# -- request bodies ----------------------------------------------------------------------------


def test_a_body_declared_too_large_is_refused_unread(service: Running) -> None:
    """Before: 4 bodies of 150 MB raised the process's peak RSS from 63 to 1,202 MB."""
    port = service.port
    before = peak_rss_mb(service.service.process.pid)

    def oversized(_: int) -> tuple[int, dict[str, str], Any, float]:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request_head(port, 500_000_000) + b'{"x": "' + b"a" * 65536)
            status, headers, body = read_response(sock)
            assert closed_by_server(sock), "the connection must not wait for the rest of the body"
        return status, headers, body, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(oversized, range(4)))
    for status, headers, body, seconds in answers:
        assert status == 413 and headers["connection"] == "close"
        assert body["__type"] == "RequestEntityTooLargeException"
        assert f"maximum request size of {MAX_REQUEST_BYTES} bytes" in body["message"]
        assert seconds < 5
    assert peak_rss_mb(service.service.process.pid) - before < 64
    assert client(port).list_state_machines()["stateMachines"]  # still serving


def test_a_streamed_body_is_cut_off_once_it_passes_the_cap(service: Running) -> None:
    port = service.port
    chunk = b"a" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request_head(port, None) + b'6\r\n{"x":"\r\n')
        sock.setblocking(False)
        while not select.select([sock], [], [], 0)[0]:
            assert sent < 64 * MAX_REQUEST_BYTES, "the server kept reading"
            try:
                sent += sock.send(framed)
            except BlockingIOError:
                select.select([sock], [sock], [], 1)
        sock.setblocking(True)
        status, headers, body = read_response(sock)
    assert (status, body["__type"], headers["connection"]) == (
        413,
        "RequestEntityTooLargeException",
        "close",
    )
    assert sent > MAX_REQUEST_BYTES


def test_a_body_within_the_cap_is_served(service: Running) -> None:
    port = service.port
    with pytest.raises(ClientError) as caught:  # read whole, then judged by the action
        client(port).start_execution(
            stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:CallCenterLoop",
            input=json.dumps({"pad": "x" * 300_000}),
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'input'" in caught.value.response["Error"]["Message"]


# -- connections -------------------------------------------------------------------------------


@pytest.fixture
async def guarded(amqp_url: str, tmp_path: Path) -> AsyncIterator[tuple[InProcessApi, int]]:
    """A real uvicorn server on a free port: at most 20 connections, 1-second deadlines."""
    limits = ConnectionLimits(max_connections=20, header_timeout=1.0, body_timeout=1.0)
    async with in_process_api(amqp_url, tmp_path) as parts:
        server = ApiServer(parts.app, "127.0.0.1", 0, limits)
        await server.start()
        try:
            yield parts, server.port
        finally:
            await server.stop()


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


async def test_idle_connections_past_the_cap_make_room_and_are_closed_on_time(
    guarded: tuple[InProcessApi, int], caplog: pytest.LogCaptureFixture
) -> None:
    _, port = guarded
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    try:
        await asyncio.sleep(0.2)
        machines = await asyncio.to_thread(lambda: client(port).list_state_machines())
        assert {m["name"] for m in machines["stateMachines"]} >= {"FolderPass", "FolderWait"}
        assert sum(still_open(s) for s in idle) <= 20
        shed = [r for r in caplog.records if "at its limit of 20 connections" in r.message]
        assert len(shed) == 1  # one line for the burst, not one per connection
        await asyncio.sleep(1.5)  # past the header deadline: none is left
        assert sum(still_open(s) for s in idle) == 0
    finally:
        for sock in idle:
            sock.close()


async def test_slow_headers_and_slow_bodies_are_cut_off_at_their_deadline(
    guarded: tuple[InProcessApi, int],
) -> None:
    _, port = guarded
    loris = socket.create_connection(("127.0.0.1", port))
    slow_body = socket.create_connection(("127.0.0.1", port))
    try:
        loris.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        slow_body.sendall(request_head(port, 100) + b"{")
        started = time.monotonic()
        while still_open(loris) and time.monotonic() - started < 5:
            loris.sendall(b"X-Drip: 1\r\n")  # a header line at a time never ends the wait
            await asyncio.sleep(0.1)
        assert 0.9 < time.monotonic() - started < 2.5
        await asyncio.sleep(0.3)
        assert not still_open(slow_body)
        answer = await asyncio.to_thread(lambda: client(port).list_state_machines())
        assert answer["stateMachines"]
    finally:
        loris.close()
        slow_body.close()


async def test_a_keep_alive_connection_serves_request_after_request(
    guarded: tuple[InProcessApi, int],
) -> None:
    _, port = guarded

    def three_requests_on_one_connection() -> list[int]:
        statuses = []
        with socket.create_connection(("127.0.0.1", port)) as sock:
            for _ in range(3):
                sock.sendall(request_head(port, 2) + b"{}")
                status, _, body = read_response(sock)
                statuses.append(status if body["stateMachines"] else 0)
                time.sleep(0.5)  # idle between requests, within the deadline
        return statuses

    # The server runs on this event loop: the blocking client goes to a thread.
    assert await asyncio.to_thread(three_requests_on_one_connection) == [200, 200, 200]


def test_many_idle_sockets_do_not_lock_out_the_running_service(service: Running) -> None:
    """Before: 20,000 idle sockets locked the API out; 300 stayed open indefinitely."""
    port = service.port
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(1100)]
    try:
        time.sleep(0.5)
        assert client(port).list_state_machines()["stateMachines"]
        assert sum(still_open(s) for s in idle) <= 1000
    finally:
        for sock in idle:
            sock.close()


# -- JSON nesting ------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_too_deep_is_refused_wherever_it_enters(service: Running) -> None:
    """Before: an input nested 240 levels was committed, then Describe, List and history
    answered 500 for it forever; a body nested 1,000 levels answered 500."""
    port = service.port
    sfn = client(port)
    arn = sfn.create_state_machine(name="DeepInput", definition=PASS, roleArn=ROLE)[
        "stateMachineArn"
    ]

    def code(call: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as caught:
            call()
        error = caught.value.response["Error"]
        return error["Code"], error["Message"]

    refused = code(lambda: sfn.start_execution(stateMachineArn=arn, input=nested(129)))
    assert refused == (
        "InvalidExecutionInput",
        "Invalid State Machine Execution Input: 'the JSON value nests arrays and objects"
        " more than 128 levels deep'",
    )
    execution = sfn.start_execution(stateMachineArn=arn, name="deepest", input=nested(128))
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == json.loads(nested(128))
    assert sfn.list_executions(stateMachineArn=arn)["executions"]
    assert sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    deep_definition = json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": json.loads(nested(250))}}}
    )
    kind, message = code(
        lambda: sfn.create_state_machine(name="Deep", definition=deep_definition, roleArn=ROLE)
    )
    assert kind == "InvalidDefinition" and "more than 128 levels deep" in message
    kind, message = code(lambda: sfn.send_task_success(taskToken="t", output=nested(200)))
    assert kind == "InvalidOutput" and "more than 128 levels deep" in message
    with socket.create_connection(("127.0.0.1", port)) as sock:
        body = b'{"maxResults": ' + nested(1000).encode() + b"}"
        sock.sendall(request_head(port, len(body)) + body)
        status, _, answer = read_response(sock)
    assert (status, answer["__type"]) == (400, "SerializationException")
    assert "Traceback" not in service.service.output()


# -- faults of ours ----------------------------------------------------------------------------


async def test_an_unreadable_stored_execution_is_a_clean_internal_failure(
    amqp_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with in_process_api(amqp_url, tmp_path) as parts:
        machine = "arn:aws:states:us-east-1:123456789012:stateMachine:FolderPass"
        body = json.dumps({"stateMachineArn": machine, "name": "broken"}).encode()
        started = await asgi_call(parts.app, body, target="StartExecution")
        assert started.status == 200
        execution = started.json()["executionArn"]
        with sqlite3.connect(tmp_path / "sfn.db") as db:  # what no code of ours can read
            db.execute('UPDATE executions SET state = \'{"not": "a state"}\'')
        for target, params in (
            ("DescribeExecution", {"executionArn": execution}),
            ("GetExecutionHistory", {"executionArn": execution}),
            ("DescribeStateMachineForExecution", {"executionArn": execution}),
            ("StopExecution", {"executionArn": execution}),
        ):
            answer = await asgi_call(parts.app, json.dumps(params).encode(), target=target)
            assert answer.status == 500, target
            assert answer.json() == {
                "__type": "InternalFailure",
                "message": "The request processing has failed because of an unknown error,"
                " exception or failure.",
            }
            assert answer.headers["x-amzn-errortype"] == "InternalFailure"
        assert "the API action DescribeExecution failed" in caplog.text
        # Lists are read from the row's columns: the damaged row still lists.
        listed = await asgi_call(
            parts.app, json.dumps({"stateMachineArn": machine}).encode(), target="ListExecutions"
        )
        assert listed.status == 200
        [entry] = listed.json()["executions"]
        assert entry["executionArn"] == execution and entry["stateMachineArn"] == machine
