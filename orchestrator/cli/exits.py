"""The command line's exit codes, one meaning each across every command, and ways to exit.

| code | meaning |
|---|---|
| 0 | done: the execution succeeded, the callback was accepted, the listing printed |
| 1 | the execution ended but did not succeed (FAILED, TIMED_OUT, ABORTED) |
| 2 | invalid usage (a bad definition, input or option), or the service refused the request |
| 3 | no answer within ``--timeout``: the outcome is not known yet |
| 4 | RabbitMQ is not reachable |
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer

from broker.connection import BrokerUnreachable

SUCCEEDED = 0
NOT_SUCCEEDED = 1
INVALID = 2
NO_ANSWER = 3
NO_BROKER = 4
T = TypeVar("T")


def fail(message: str, code: int = INVALID) -> NoReturn:
    """Print ``error: MESSAGE`` to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def on_broker(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` (which talks to RabbitMQ); one line and exit 4 when it cannot be reached."""
    try:
        return asyncio.run(work)
    except BrokerUnreachable as exc:
        fail(str(exc), NO_BROKER)
