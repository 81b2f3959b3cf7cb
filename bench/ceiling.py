"""The zero-cost orchestrator: the call-center chain over raw aio-pika, with nothing in between.

What RabbitMQ and Python alone can do for this workflow on this machine, the ceiling any
orchestrator built on them is measured against. Five single-purpose worker processes
(``python -m bench.ceiling worker open|assign|work|close|escalate``) each consume their own
durable queue ``bench.ceiling.<step>`` with manual acks and a prefetch, do the tutorial's
trivial work (build the message string; Work on Case draws a random 0/1 ``Status``), publish
the reply to ``reply_to`` as a persistent message with publisher confirms, and ack the request
only once the reply is confirmed. aio-pika runs each delivery in its own task, so a worker has
up to ``prefetch`` requests in progress (ours handles one at a time, in order).

The client (:class:`CeilingClient`, run by ``bench.compare``) is the orchestrator: it
publishes a case to ``open``; each reply arrives on the durable queue
``bench.ceiling.results`` (consumed with manual acks, like ours' task-results queue) and is
forwarded to ``assign``, then ``work``, then ``close`` or ``escalate`` by ``Status``, the
forward confirmed before the reply is acked. No store, no validation, no state machine, no
history. Queues are quorum queues (as ours) or classic ones (``--queue-type``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
from collections.abc import Sequence
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from bench.common import (
    CLOSED,
    ESCALATED,
    Load,
    Tracker,
    amqp_url,
    drive,
    expected_message,
    publish_case_message,
)

QUEUE_PREFIX = "bench.ceiling."
STEPS = ("open", "assign", "work", "close", "escalate")
RESULTS_QUEUE = QUEUE_PREFIX + "results"
DEFAULT_PREFETCH = 10  # as ours' workers
CLIENT_PREFETCH = 100  # as ours' orchestrator


def queue_name(step: str) -> str:
    return QUEUE_PREFIX + step


def queue_arguments(queue_type: str) -> dict[str, Any]:
    return {"x-queue-type": queue_type}


def handle(step: str, event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The tutorial's five functions, as plain dictionaries."""
    if step == "open":
        case = event["inputCaseID"]
        return {"Case": case, "Message": f"Case {case}: opened..."}
    if step == "assign":
        return {"Case": event["Case"], "Message": event["Message"] + "assigned..."}
    if step == "work":
        status = rng.randint(0, 1)
        suffix = "resolved..." if status == 1 else "unresolved..."
        return {"Case": event["Case"], "Status": status, "Message": event["Message"] + suffix}
    ending = "closed." if step == "close" else "escalating."
    return {"Case": event["Case"], "Status": event["Status"], "Message": event["Message"] + ending}


async def reset_queues(queue_type: str, url: str | None = None) -> None:
    """Delete and redeclare every ceiling queue (empty, and of ``queue_type``)."""
    connection = await aio_pika.connect(url or amqp_url())
    try:
        channel = await connection.channel()
        for name in [*map(queue_name, STEPS), RESULTS_QUEUE]:
            await channel.queue_delete(name)
            await channel.declare_queue(name, durable=True, arguments=queue_arguments(queue_type))
    finally:
        await connection.close()


async def serve(step: str, queue_type: str, prefetch: int, stop: asyncio.Event) -> None:
    """Consume ``bench.ceiling.<step>`` until ``stop``: handle, reply (confirmed), ack."""
    rng = random.Random()
    connection = await aio_pika.connect(amqp_url())
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(
            queue_name(step), durable=True, arguments=queue_arguments(queue_type)
        )
        exchange = channel.default_exchange

        async def on_message(message: AbstractIncomingMessage) -> None:
            reply = handle(step, orjson.loads(message.body), rng)
            await exchange.publish(
                aio_pika.Message(
                    orjson.dumps(reply),
                    correlation_id=message.correlation_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=message.reply_to or RESULTS_QUEUE,
            )
            await message.ack()

        tag = await queue.consume(on_message, no_ack=False)
        print(f"started {step}: consuming {queue.name} (prefetch {prefetch})", flush=True)
        await stop.wait()
        await queue.cancel(tag)
    finally:
        await connection.close()
    print(f"stopped {step}", flush=True)


class CeilingClient:
    """The chaining client: open -> assign -> work -> close | escalate, per case."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or amqp_url()

    async def run(self, case_ids: Sequence[str], load: Load) -> Tracker:
        """Run ``case_ids`` through the chain under ``load``; the tracker holds what came back."""
        tracker = Tracker(expected=len(case_ids))
        connection = await aio_pika.connect(self.url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=CLIENT_PREFETCH)
            results = await channel.get_queue(RESULTS_QUEUE)
            seen: set[tuple[str, str]] = set()

            # aio-pika runs each delivery in its own task: replies are forwarded concurrently.
            async def on_reply(message: AbstractIncomingMessage) -> None:
                case_id, _, step = (message.correlation_id or "").partition("|")
                if case_id not in tracker.sent:
                    tracker.unexpected += 1  # left over from an earlier batch
                    await message.ack()
                    return
                if (case_id, step) in seen:
                    tracker.duplicates += 1  # a step answered twice: not forwarded again
                    await message.ack()
                    return
                seen.add((case_id, step))
                event = orjson.loads(message.body)
                nxt = {"open": "assign", "assign": "work"}.get(step)
                if step == "work":
                    nxt = "close" if event.get("Status") == 1 else "escalate"
                if nxt is None:
                    closed = step == "close"
                    ok = event.get("Message") == expected_message(case_id, closed)
                    tracker.arrived(
                        case_id, (CLOSED if closed else ESCALATED) if ok else repr(event)
                    )
                else:
                    await send_step(channel, case_id, nxt, message.body)
                await message.ack()

            tag = await results.consume(on_reply, no_ack=False)

            async def publish(case_id: str) -> None:
                await send_step(channel, case_id, "open", orjson.dumps({"inputCaseID": case_id}))

            await drive(publish, tracker, case_ids, load)
            await results.cancel(tag)
        finally:
            await connection.close()
        return tracker


async def send_step(
    channel: AbstractChannel, case_id: str, step: str, body: bytes, reply_to: str = RESULTS_QUEUE
) -> None:
    """Publish ``body`` to ``step``'s worker (persistent, confirmed), its reply to ``reply_to``."""
    await publish_case_message(
        channel, queue_name(step), body, correlation_id=f"{case_id}|{step}", reply_to=reply_to
    )


def main() -> None:
    """``python -m bench.ceiling worker STEP``: serve one step until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="serve one step of the chain")
    worker.add_argument("step", choices=STEPS)
    worker.add_argument("--queue-type", choices=("quorum", "classic"), default="quorum")
    worker.add_argument("--prefetch", type=int, default=DEFAULT_PREFETCH)
    args = parser.parse_args()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(args.step, args.queue_type, args.prefetch, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
