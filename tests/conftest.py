"""Shared fixtures: a real RabbitMQ for integration tests, and helpers to reach it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from tests import postgres
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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database of its own for the test; dropped afterwards. A
    failure under CI, a skip elsewhere, when there is no server."""
    why_not = postgres.reachable()
    if why_not is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests need a server under CI: {why_not}")
        pytest.skip(f"PostgreSQL test skipped: {why_not}")
    with postgres.fresh_database() as url:
        yield url
