"""Connecting to RabbitMQ: the URL from the environment, and a robust connection with retries.

While the broker cannot be reached, the process says so in one line per retry period
(``RabbitMQ at amqp://guest:***@host:5672/ is not reachable (Connection refused); retrying
every 5s``), not a traceback or a line per attempt. A refused login or a missing virtual
host is reported at once: connecting again would only be refused again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustConnection

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
# The longest pause between two attempts, and so the period of the "not reachable" line.
RETRY_SECONDS = 5.0
log = logging.getLogger(__name__)
T = TypeVar("T")
# Refusals that a new connection would get again: report them instead of retrying.
_PERMANENT = (
    aiormq.exceptions.ChannelPreconditionFailed,
    aiormq.exceptions.ChannelAccessRefused,
    aiormq.exceptions.ChannelNotFoundEntity,
)


class BrokerUnreachable(ConnectionError):
    """RabbitMQ could not be reached (or refused us); the message says where and why."""


class _TransportErrors(logging.Filter):
    """Drops aiormq's ERROR line for each failed connection attempt: the retry loop here
    (and aio-pika's, once connected) reports the same failure in one line per period."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("error when creating transport")


logging.getLogger("aiormq.connection").addFilter(_TransportErrors())


def amqp_url() -> str:
    """The broker URL: ``AMQP_URL`` from the environment, else the local default."""
    return os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL


async def connect(
    url: str | None = None, *, wait_seconds: float = math.inf
) -> AbstractRobustConnection:
    """Open a robust connection, retrying while the broker is not up, for ``wait_seconds``.

    Compose starts services in parallel, so the broker may still be booting; once connected,
    aio-pika's robust connection reconnects by itself. Services wait as long as it takes
    (the default); a command gives a finite wait. Raises :class:`BrokerUnreachable` after
    the wait, or at once when the broker refuses the login or the virtual host.
    """
    url = url or amqp_url()
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + wait_seconds
    delay = 0.5
    reported_at = -math.inf
    while True:
        try:
            return await aio_pika.connect_robust(url)
        except aiormq.exceptions.ProbableAuthenticationError as exc:
            raise BrokerUnreachable(
                f"RabbitMQ at {redact(url)} refused the login of user {_user(url)!r} ({exc})"
            ) from None
        except aiormq.exceptions.ProtocolSyntaxError as exc:
            if "Connection.OpenOk" not in str(exc):
                raise
            raise BrokerUnreachable(
                f"RabbitMQ at {redact(url)} refused to open virtual host {_vhost(url)!r}"
                f" (does it exist, and may user {_user(url)!r} use it?)"
            ) from None
        except (ConnectionError, OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
            reason = describe_failure(exc)
            now = loop.time()
            if now >= deadline:
                waited = f"; gave up after {now - started:.0f}s" if now > started + 1 else ""
                raise BrokerUnreachable(
                    f"RabbitMQ at {redact(url)} is not reachable ({reason}){waited}"
                ) from None
            if now - reported_at >= RETRY_SECONDS:
                reported_at = now
                log.warning(
                    "RabbitMQ at %s is not reachable (%s); retrying every %gs%s",
                    redact(url),
                    reason,
                    RETRY_SECONDS,
                    "" if math.isinf(wait_seconds) else f" for up to {wait_seconds:g}s",
                )
            # Back off, but try again when the period ends, so each line reports a fresh try.
            await asyncio.sleep(
                min(delay, deadline - now, max(reported_at + RETRY_SECONDS - now, 0))
            )
            delay = min(delay * 2, RETRY_SECONDS)


async def connect_and_set_up(
    url: str | None,
    set_up: Callable[[AbstractRobustConnection], Awaitable[T]],
    *,
    wait_seconds: float = math.inf,
    set_up_seconds: float = 30.0,
) -> tuple[AbstractRobustConnection, T]:
    """Connect, then run ``set_up`` (channels, queues, consumers) on the new connection.

    The robust connection restores only the channels and consumers that exist when it drops.
    A drop in the middle of set-up made set-up fail (or hang), which left a worker alive and
    consuming nothing. So set-up runs with a time limit and, when the connection goes away
    under it, again on a new connection, until ``wait_seconds`` have passed (services: no
    limit, as for reconnecting later).
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
                raise BrokerUnreachable(
                    f"cannot set up on RabbitMQ at {redact(url)}: {exc!r}"
                ) from exc
            log.warning("lost RabbitMQ at %s while setting up (%r); retrying", redact(url), exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_SECONDS)


def describe_failure(exc: BaseException) -> str:
    """A connection failure in a few words: ``Connection refused``, ``Name or service not
    known``, ``timed out``."""
    code = exc.args[0] if exc.args else None
    if isinstance(code, int) and len(exc.args) >= 2:
        with contextlib.suppress(ValueError):
            text = os.strerror(code)
            if code > 0 and not text.startswith("Unknown error"):
                return text
        return str(exc.args[1])
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


async def _close_quietly(connection: AbstractRobustConnection) -> None:
    with contextlib.suppress(Exception):  # it is being thrown away: how it ends is moot
        await asyncio.wait_for(connection.close(), 5.0)


def redact(url: str) -> str:
    """Hide the password of an AMQP URL for logs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def _user(url: str) -> str:
    return unquote(urlsplit(url).username or "guest")


def _vhost(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"
