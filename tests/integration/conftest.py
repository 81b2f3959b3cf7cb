"""Fixtures of the integration tests that work on one channel and one private queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection


@pytest.fixture
async def confirm_channel(
    amqp_connection: AbstractRobustConnection,
) -> AsyncIterator[AbstractRobustChannel]:
    """A robust channel with publisher confirms, as the services open theirs."""
    opened = await amqp_connection.channel(publisher_confirms=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def private_queue(confirm_channel: AbstractRobustChannel) -> AsyncIterator[str]:
    """The name of a quorum queue of the test's own, declared on ``confirm_channel`` (so that
    the channel declares it again when it reopens); deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    await confirm_channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    try:
        yield name
    finally:
        await confirm_channel.queue_delete(name, if_unused=False, if_empty=False)
