"""Shared fixtures: a real RabbitMQ for integration tests, and helpers to reach it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from tests.broker import rabbitmq_url


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """The URL of a real RabbitMQ; a failure under CI, a skip elsewhere, when there is none."""
    try:
        with rabbitmq_url() as url:
            yield url
    except RuntimeError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"integration tests need RabbitMQ under CI: {exc}")
        pytest.skip(f"integration test skipped: {exc}")


@pytest.fixture
async def amqp_connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    """A robust connection to the test broker, closed after the test."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def amqp_channel(amqp_connection: AbstractRobustConnection) -> AsyncIterator[AbstractChannel]:
    """A channel with publisher confirms on the test broker."""
    channel = await amqp_connection.channel(publisher_confirms=True)
    yield channel


@pytest.fixture
def subprocess_env(amqp_url: str) -> dict[str, str]:
    """The environment for services started as OS processes: the test broker's URL."""
    env = dict(os.environ)
    env["AMQP_URL"] = amqp_url
    env["PYTHONUNBUFFERED"] = "1"
    return env
