"""Connecting to RabbitMQ: the URL from the environment, and a robust connection with retries."""

from __future__ import annotations

import asyncio
import logging
import os

import aio_pika
from aio_pika.abc import AbstractRobustConnection

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
log = logging.getLogger(__name__)


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


def _redact(url: str) -> str:
    """Hide the password of an AMQP URL for logs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
