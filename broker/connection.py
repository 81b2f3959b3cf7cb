"""Connecting to RabbitMQ: the URL from the environment, and a robust connection with retries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustConnection

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
log = logging.getLogger(__name__)
T = TypeVar("T")
# Refusals that a new connection would get again: report them instead of retrying.
_PERMANENT = (
    aiormq.exceptions.ChannelPreconditionFailed,
    aiormq.exceptions.ChannelAccessRefused,
    aiormq.exceptions.ChannelNotFoundEntity,
)


def amqp_url() -> str:
    """The broker URL: ``AMQP_URL`` from the environment, else the local default."""
    return os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL


async def connect(
    url: str | None = None, *, wait_seconds: float = 60.0
) -> AbstractRobustConnection:
    """Open a robust connection, retrying while the broker is not up yet.

    Compose starts services in parallel, so the broker may still be booting; once connected,
    aio-pika's robust connection reconnects by itself.
    """
    url = url or amqp_url()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    delay = 0.5
    while True:
        try:
            return await aio_pika.connect_robust(url)
        except (ConnectionError, OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
            if loop.time() + delay > deadline:
                raise ConnectionError(f"cannot reach RabbitMQ at {_redact(url)}: {exc}") from exc
            log.warning("RabbitMQ at %s not reachable yet (%s); retrying", _redact(url), exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def connect_and_set_up(
    url: str | None,
    set_up: Callable[[AbstractRobustConnection], Awaitable[T]],
    *,
    wait_seconds: float = 60.0,
    set_up_seconds: float = 30.0,
) -> tuple[AbstractRobustConnection, T]:
    """Connect, then run ``set_up`` (channels, queues, consumers) on the new connection.

    The robust connection restores only the channels and consumers that exist when it drops.
    A drop in the middle of set-up made set-up fail (or hang), which left a worker alive and
    consuming nothing. So set-up runs with a time limit and, when the connection goes away
    under it, again on a new connection, until ``wait_seconds`` have passed.
    """
    url = url or amqp_url()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    delay = 0.5
    while True:
        connection = await connect(url, wait_seconds=max(deadline - loop.time(), delay))
        try:
            return connection, await asyncio.wait_for(set_up(connection), set_up_seconds)
        except _PERMANENT:
            await _close_quietly(connection)
            raise
        except Exception as exc:  # aio-pika raises several kinds (and bare ones) on a drop
            await _close_quietly(connection)
            if loop.time() + delay > deadline:
                raise ConnectionError(
                    f"cannot set up on RabbitMQ at {_redact(url)}: {exc!r}"
                ) from exc
            log.warning("lost RabbitMQ at %s while setting up (%r); retrying", _redact(url), exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _close_quietly(connection: AbstractRobustConnection) -> None:
    with contextlib.suppress(Exception):  # it is being thrown away: how it ends is moot
        await asyncio.wait_for(connection.close(), 5.0)


def _redact(url: str) -> str:
    """Hide the password of an AMQP URL for logs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
