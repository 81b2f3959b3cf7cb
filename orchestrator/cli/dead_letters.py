"""Dead letters: list what landed in the ``<queue>.dead-letter`` queues, and publish it again."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from broker import DEAD_LETTER_SUFFIX, ORIGINAL_QUEUE_HEADER, REASON_HEADER, Topology, connect

PREVIOUS_REASON_HEADER = "x-previous-dead-letter-reason"
# Marks each copy with the republishing run's id, to recognise one that comes back.
REPUBLISHED_HEADER = "x-republished-by"


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter: where it came from, why, and its body."""

    queue: str
    reason: str
    body: bytes
    headers: dict[str, Any]


def _reason(message: AbstractIncomingMessage) -> str:
    headers = message.headers or {}
    if REASON_HEADER in headers:
        reason = headers[REASON_HEADER]
        return reason.decode() if isinstance(reason, bytes) else str(reason)
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths:  # dead-lettered by the broker itself
        death = deaths[0]
        if isinstance(death, dict):
            return f"broker: {death.get('reason')!s} (count {death.get('count')!s})"
    return "unknown"


async def list_dead_letters(url: str, queues: Iterable[str]) -> list[DeadLetter]:
    """Every dead letter of ``queues`` (work-queue names); they stay in place."""
    connection = await connect(url, wait_seconds=10)
    letters: list[DeadLetter] = []
    try:
        channel = await connection.channel()
        topology = Topology(channel)
        for queue in queues:
            await topology.work_queue(queue)
            dead = await channel.get_queue(queue + DEAD_LETTER_SUFFIX)
            held: list[AbstractIncomingMessage] = []
            while (message := await dead.get(no_ack=False, fail=False)) is not None:
                held.append(message)
                letters.append(
                    DeadLetter(queue, _reason(message), message.body, dict(message.headers or {}))
                )
            for message in held:  # give them all back only at the end, or we would see them again
                await message.nack(requeue=True)
    finally:
        await connection.close()
    return letters


@dataclass(frozen=True)
class Republished:
    """What ``republish`` did: ``moved`` letters went back to the queue, of ``present`` that
    were there when it began."""

    queue: str
    moved: int
    present: int


async def republish(url: str, queue: str, limit: int | None = None) -> Republished:
    """Move the dead letters of ``queue`` that are there now (at most ``limit``) back to it.

    Only the letters present at the start move: a letter the service dead-letters again
    while this runs lands behind them and stays (taking the queue's message count first,
    and marking each copy, so a letter that comes back is recognised and left). Each copy
    is confirmed by the broker before its dead letter is acked, so nothing is lost; the
    reason travels on as ``x-previous-dead-letter-reason``.
    """
    connection = await connect(url, wait_seconds=10)
    run = uuid.uuid4().hex
    moved = 0
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = Topology(channel)
        await topology.work_queue(queue)
        dead = await channel.declare_queue(queue + DEAD_LETTER_SUFFIX, passive=True)
        present = dead.declaration_result.message_count or 0
        wanted = present if limit is None else min(present, limit)
        while moved < wanted:
            message = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = dict(message.headers or {})
            if _header_text(headers.get(REPUBLISHED_HEADER)) == run:
                await message.nack(requeue=True)  # ours, back already: the originals are done
                break
            reason = headers.pop(REASON_HEADER, None)
            headers.pop(ORIGINAL_QUEUE_HEADER, None)
            headers.pop("x-death", None)
            if reason is not None:
                headers[PREVIOUS_REASON_HEADER] = reason
            headers[REPUBLISHED_HEADER] = run
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    content_type=message.content_type,
                    correlation_id=message.correlation_id,
                    reply_to=message.reply_to,
                    message_id=message.message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
            )
            await message.ack()
            moved += 1
    finally:
        await connection.close()
    return Republished(queue, moved, present)


def _header_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None
