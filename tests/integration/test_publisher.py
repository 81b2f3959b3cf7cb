"""The outbox publisher on a real broker: rows are sent with confirms, and a confirmed row is
deleted by the next batch's transaction or, when none comes, by a flush of its own; a sweep
never resends a confirmed row."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from orchestrator.publisher import OutboxPublisher
from orchestrator.store import OutboxMessage, SqliteStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def channel(
    amqp_connection: AbstractRobustConnection,
) -> AsyncIterator[AbstractRobustChannel]:
    """A channel with publisher confirms, as the service opens it."""
    opened = await amqp_connection.channel(publisher_confirms=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def queue_name(channel: AbstractRobustChannel) -> AsyncIterator[str]:
    """A private quorum queue for the published rows."""
    name = f"publisher-test-{uuid.uuid4().hex[:12]}"
    await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    try:
        yield name
    finally:
        await channel.queue_delete(name, if_unused=False, if_empty=False)


def enqueue(store: SqliteStore, queue: str, *bodies: bytes) -> list[int]:
    """Commit ``bodies`` to the outbox, addressed to ``queue``; their ids."""
    rows = [
        OutboxMessage("", queue, body, correlation_id=f"c-{n}") for n, body in enumerate(bodies)
    ]
    return store.enqueue(rows, created=0.0)


async def arrived(channel: AbstractRobustChannel, queue: str) -> list[bytes]:
    """Everything in ``queue`` now (taken and acked)."""
    declared = await channel.get_queue(queue, ensure=False)
    bodies = []
    while (message := await declared.get(no_ack=True, fail=False)) is not None:
        bodies.append(message.body)
    return bodies


async def test_confirmed_rows_are_deleted_by_the_next_batch(
    tmp_path: Path, channel: AbstractRobustChannel, queue_name: str
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    publisher = OutboxPublisher(store, channel, forget_after=60.0)
    ids = enqueue(store, queue_name, b"one", b"two")
    await publisher.publish(ids)
    assert await arrived(channel, queue_name) == [b"one", b"two"]
    # Confirmed, not yet deleted: no transaction of their own was spent on them.
    assert [row.id for row in store.pending_outbox()] == ids
    with store.batch():
        publisher.forget_confirmed()
    assert store.pending_outbox() == []
    store.close()


async def test_confirmed_rows_are_flushed_when_no_batch_comes(
    tmp_path: Path, channel: AbstractRobustChannel, queue_name: str
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    publisher = OutboxPublisher(store, channel, forget_after=0.05)
    await publisher.publish(enqueue(store, queue_name, b"alone"))
    for _ in range(100):
        if not store.pending_outbox():
            break
        await asyncio.sleep(0.02)
    assert store.pending_outbox() == []
    assert await arrived(channel, queue_name) == [b"alone"]
    store.close()


async def test_a_sweep_sends_what_was_left_and_never_a_confirmed_row(
    tmp_path: Path, channel: AbstractRobustChannel, queue_name: str
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    publisher = OutboxPublisher(store, channel, forget_after=60.0)
    await publisher.publish(enqueue(store, queue_name, b"sent"))
    left = enqueue(store, queue_name, b"left behind")  # committed, never published
    assert await publisher.sweep() == 1
    assert await arrived(channel, queue_name) == [b"sent", b"left behind"]
    assert [row.id for row in store.pending_outbox()] == left  # confirmed, not yet deleted
    assert await publisher.sweep() == 0  # the confirmed rows went first
    assert store.pending_outbox() == []
    assert await arrived(channel, queue_name) == []
    store.close()
