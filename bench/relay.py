"""The zero-cost orchestrator in ours' topology: the ceiling's chain behind an intake queue.

The ceiling (``bench.ceiling``) lets the benchmark's client chain the workers itself: a case
costs the broker 8 messages (4 requests, 4 replies). Ours puts an orchestrator between the
client and the workers, so a case also costs an intake message and a reply to the client's
``reply_to``, and the orchestrator is a process of its own. ``ceiling-relay`` measures that
shape with nothing inside it: ``python -m bench.relay`` consumes the durable intake queue
``bench.ceiling.intake``, chains the ceiling's five workers exactly as the ceiling's client
does (raw aio-pika, publisher confirms, persistent messages, acks after the confirm), and
publishes each case's last reply to the ``reply_to`` its intake message named. It keeps who
asked in memory: no store, no validation, no state machine, no history.

Its throughput is what any orchestrator with an intake queue could reach at best here; ours'
distance to it is the cost of what ours does (the durable store, the interpreter, the
messages' validation, the execution-results exchange), apart from the shape.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage

from bench import ceiling
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

INTAKE_QUEUE = ceiling.QUEUE_PREFIX + "intake"
RESULTS_QUEUE = ceiling.QUEUE_PREFIX + "relay-results"
READY_LINE = "relay serving"


async def reset_queues(queue_type: str, url: str | None = None) -> None:
    """Delete and redeclare the ceiling's queues and the relay's (empty, of ``queue_type``)."""
    await ceiling.reset_queues(queue_type, url)
    connection = await aio_pika.connect(url or amqp_url())
    try:
        channel = await connection.channel()
        for name in (INTAKE_QUEUE, RESULTS_QUEUE):
            await channel.queue_delete(name)
            arguments = ceiling.queue_arguments(queue_type)
            await channel.declare_queue(name, durable=True, arguments=arguments)
    finally:
        await connection.close()


async def serve(queue_type: str, stop: asyncio.Event) -> None:
    """Relay cases from the intake queue through the chain to their askers until ``stop``."""
    connection = await aio_pika.connect(amqp_url())
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=ceiling.CLIENT_PREFETCH)
        arguments = ceiling.queue_arguments(queue_type)
        intake = await channel.declare_queue(INTAKE_QUEUE, durable=True, arguments=arguments)
        results = await channel.declare_queue(RESULTS_QUEUE, durable=True, arguments=arguments)
        askers: dict[str, tuple[str, str | None]] = {}  # case -> its reply_to, correlation id

        async def on_case(message: AbstractIncomingMessage) -> None:
            case_id = str(orjson.loads(message.body)["inputCaseID"])
            if message.reply_to:
                askers[case_id] = (message.reply_to, message.correlation_id)
            await ceiling.send_step(channel, case_id, "open", message.body, RESULTS_QUEUE)
            await message.ack()

        async def on_reply(message: AbstractIncomingMessage) -> None:
            case_id, _, step = (message.correlation_id or "").partition("|")
            event = orjson.loads(message.body)
            nxt = {"open": "assign", "assign": "work"}.get(step)
            if step == "work":
                nxt = "close" if event.get("Status") == 1 else "escalate"
            if nxt is not None:
                await ceiling.send_step(channel, case_id, nxt, message.body, RESULTS_QUEUE)
            elif (asker := askers.pop(case_id, None)) is not None:
                reply_to, correlation_id = asker
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        orjson.dumps({"step": step, "output": event}),
                        correlation_id=correlation_id,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=reply_to,
                )
            await message.ack()

        tags = [await results.consume(on_reply), await intake.consume(on_case)]
        print(READY_LINE, flush=True)
        await stop.wait()
        await intake.cancel(tags[1])
        await results.cancel(tags[0])
    finally:
        await connection.close()


async def run_cases(url: str, case_ids: Sequence[str], load: Load) -> Tracker:
    """The benchmark's client, as ours': cases to the intake queue (persistent, confirmed),
    answers on an exclusive reply queue."""
    tracker = Tracker(expected=len(case_ids))
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        replies = await channel.declare_queue("", exclusive=True)

        async def on_result(message: AbstractIncomingMessage) -> None:
            case_id = message.correlation_id or ""
            answer = orjson.loads(message.body)
            closed = answer.get("step") == "close"
            ok = (answer.get("output") or {}).get("Message") == expected_message(case_id, closed)
            tracker.arrived(case_id, (CLOSED if closed else ESCALATED) if ok else repr(answer))

        await replies.consume(on_result, no_ack=True)

        async def publish(case_id: str) -> None:
            body = orjson.dumps({"inputCaseID": case_id})
            await publish_case_message(
                channel, INTAKE_QUEUE, body, correlation_id=case_id, reply_to=replies.name
            )

        await drive(publish, tracker, case_ids, load)
    finally:
        await connection.close()
    return tracker


def main() -> None:
    """``python -m bench.relay [--queue-type T]``: relay cases until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue-type", choices=("quorum", "classic"), default="quorum")
    args = parser.parse_args()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(args.queue_type, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
