"""The outbox publisher on a real broker: rows are sent with confirms, and a confirmed row is
deleted by the next batch's transaction or, when none comes, by a flush of its own; a sweep
never resends a confirmed row."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustChannel

from orchestrator.service.publisher import OutboxPublisher
from orchestrator.store import OutboxMessage, SqliteStore
from tests.integration.amqp import take_ready

pytestmark = pytest.mark.integration


def enqueue(store: SqliteStore, queue: str, *bodies: bytes) -> list[int]:
    """Commit ``bodies`` to the outbox, addressed to ``queue``; their ids."""
    rows = [
        OutboxMessage("", queue, body, correlation_id=f"c-{n}") for n, body in enumerate(bodies)
    ]
    return store.enqueue(rows, created=0.0)


async def test_confirmed_rows_are_deleted_by_the_next_batch(
    tmp_path: Path, confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    publisher = OutboxPublisher(store, confirm_channel, forget_after=60.0)
    ids = enqueue(store, private_queue, b"one", b"two")
    await publisher.publish(ids)
    assert await take_ready(confirm_channel, private_queue) == [b"one", b"two"]
    # Confirmed, not yet deleted: no transaction of their own was spent on them.
    assert [row.id for row in store.pending_outbox()] == ids
    with store.batch():
        publisher.forget_confirmed()
    assert store.pending_outbox() == []
    store.close()


async def test_confirmed_rows_are_flushed_when_no_batch_comes(
    tmp_path: Path, confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    publisher = OutboxPublisher(store, confirm_channel, forget_after=0.05)
    await publisher.publish(enqueue(store, private_queue, b"alone"))
    for _ in range(100):
        if not store.pending_outbox():
            break
        await asyncio.sleep(0.02)
    assert store.pending_outbox() == []
    assert await take_ready(confirm_channel, private_queue) == [b"alone"]
    store.close()


async def test_a_sweep_sends_what_was_left_and_never_a_confirmed_row(
    tmp_path: Path, confirm_channel: AbstractRobustChannel, private_queue: str
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    publisher = OutboxPublisher(store, confirm_channel, forget_after=60.0)
    await publisher.publish(enqueue(store, private_queue, b"sent"))
    left = enqueue(store, private_queue, b"left behind")  # committed, never published
    assert await publisher.sweep() == 1
    assert await take_ready(confirm_channel, private_queue) == [b"sent", b"left behind"]
    assert [row.id for row in store.pending_outbox()] == left  # confirmed, not yet deleted
    assert await publisher.sweep() == 0  # the confirmed rows went first
    assert store.pending_outbox() == []
    assert await take_ready(confirm_channel, private_queue) == []
    store.close()
