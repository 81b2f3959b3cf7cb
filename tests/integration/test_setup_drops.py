"""A connection lost while a service sets up (channel, queues, consumers) is set up again.

The robust connection restores only the channels and consumers that exist when it drops, so
a drop in the middle of set-up once left a worker alive and consuming nothing. A TCP proxy in
front of the real broker cuts the first connection after the k-th read from the broker: early
cuts land in the AMQP handshake, later ones in the middle of set-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

import messages
from broker import INTAKE_QUEUE, function_queue
from orchestrator.asl.loader import load_definition
from orchestrator.service.loop import ServiceConfig, run_service
from workers.consumer import Worker
from workers.runtime import function, get_function

pytestmark = pytest.mark.integration
PROBE = "SetupDropProbe"
CUTS = (3, 5, 7, 9, 11)  # reads from the broker: after the handshake, during set-up


@function(PROBE, blocks=False)
def probe(event: dict[str, object], context: object) -> dict[str, object]:
    """Echo, so that an answer proves the worker consumes."""
    return {"echo": event}


class CuttingProxy:
    """Forwards TCP to the broker; cuts every socket after the ``cut_after``-th read from it."""

    def __init__(self, broker: tuple[str, int], cut_after: int) -> None:
        self.broker = broker
        self.cut_after = cut_after
        self.reads = 0
        self.cut = False
        self.sockets: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for writer in self.sockets:
            writer.close()
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(*self.broker)
        self.sockets += [writer, broker_writer]
        await asyncio.gather(
            self._pump(reader, broker_writer, counted=False),
            self._pump(broker_reader, writer, counted=True),
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, counted: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                if counted and not self.cut:
                    self.reads += 1
                    if self.reads == self.cut_after:
                        self.cut = True
                        for socket in self.sockets:
                            socket.close()
                        return
        writer.close()


def proxied(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{port}"))


async def first_message(
    queue: AbstractQueue, timeout: float = 30.0
) -> AbstractIncomingMessage | None:
    """The first message to arrive on ``queue`` within ``timeout`` seconds, if any."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is not None:
            return message
        await asyncio.sleep(0.1)
    return None


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5672


# A service started on a URL: run(url, stop, ready).
Serve = Callable[[str, asyncio.Event, asyncio.Event], Awaitable[None]]


@contextlib.asynccontextmanager
async def served_behind_a_cut(
    amqp_url: str, cut_after: int, serve: Serve
) -> AsyncIterator[AbstractChannel]:
    """Start ``serve`` through a proxy that cuts its first connection; once it is ready, a
    channel on the broker (direct) to talk to it. The service is stopped afterwards."""
    proxy = CuttingProxy(broker_address(amqp_url), cut_after)
    port = await proxy.start()
    stop, ready = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(serve(proxied(amqp_url, port), stop, ready))
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        await asyncio.wait_for(ready.wait(), 30)
        assert proxy.cut, "the proxy cut the first connection"
        yield await connection.channel()
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await connection.close()
        await proxy.close()


@pytest.mark.parametrize("cut_after", CUTS)
async def test_a_worker_cut_off_while_setting_up_serves_after_all(
    amqp_url: str, cut_after: int
) -> None:
    async def serve(url: str, stop: asyncio.Event, ready: asyncio.Event) -> None:
        await Worker(get_function(PROBE), url=url).run(stop, ready)

    async with served_behind_a_cut(amqp_url, cut_after, serve) as channel:
        replies = await channel.declare_queue("", exclusive=True)
        token = uuid.uuid4().hex
        request = messages.TaskRequest(
            execution_arn="arn:test",
            execution_name="setup-drop",
            state_machine_name="Probe",
            state_name="Probe",
            function_name=PROBE,
            task_token=token,
            attempt=0,
            payload={"cut": cut_after},
        )
        await channel.default_exchange.publish(
            aio_pika.Message(request.to_wire(), reply_to=replies.name, correlation_id=token),
            routing_key=function_queue(PROBE),
        )
        answer = await first_message(replies)
        assert answer is not None, "the worker answered after the cut"
        result = messages.parse_task_result(answer.body)
        assert isinstance(result, messages.TaskSucceeded)
        assert result.output == {"echo": {"cut": cut_after}}


@pytest.mark.parametrize("cut_after", CUTS)
async def test_the_orchestrator_cut_off_while_setting_up_serves_after_all(
    amqp_url: str, tmp_path: Path, cut_after: int
) -> None:
    machine = load_definition(
        json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        name="SetupDropMachine",
    )

    async def serve(url: str, stop: asyncio.Event, ready: asyncio.Event) -> None:
        config = ServiceConfig(
            machines={machine.name: machine},
            amqp_url=url,
            db_path=tmp_path / "sfn.db",
            api_port=None,
        )
        await run_service(config, stop, ready)

    async with served_behind_a_cut(amqp_url, cut_after, serve) as channel:
        replies = await channel.declare_queue("", exclusive=True)
        await channel.default_exchange.publish(
            aio_pika.Message(
                json.dumps({"cut": cut_after}).encode(),
                headers={
                    "state-machine": machine.name,
                    "execution-name": f"setup-drop-{uuid.uuid4().hex[:8]}",
                },
                reply_to=replies.name,
            ),
            routing_key=INTAKE_QUEUE,
        )
        answer = await first_message(replies)
        assert answer is not None, "the orchestrator answered after the cut"
        result = json.loads(answer.body)
        assert result["status"] == "SUCCEEDED"
        assert result["output"] == {"cut": cut_after}
