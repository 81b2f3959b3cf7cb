"""``python -m workers.integrations_main MODULE``: serve MODULE's service integrations.

MODULE (imported by its dotted name, e.g. ``workers.examples.dynamodb_table``) registers
handlers with ``@workers.integrations.integration``; the process serves every one from its
queue until SIGTERM or SIGINT. ``AMQP_URL`` (or ``--amqp-url``) names the broker and
``LOG_LEVEL`` (default INFO) what it logs. It exits 0 after a graceful stop (calls in flight
are finished and answered, buffered requests go back to their queues), 2 for a module that
cannot be imported or registers nothing, 4 when RabbitMQ refuses its login or virtual host;
while RabbitMQ is merely down it waits, saying so once per retry period.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from typing import Annotated

import typer

from broker import amqp_url
from broker.connection import BrokerUnreachable
from broker.log_config import configure_logging, log_level
from broker.service_loop import run_service_loop
from workers.consumer import DEFAULT_PREFETCH
from workers.integration_consumer import DEFAULT_CONCURRENCY, serve_integrations
from workers.integrations import registered_integrations

log = logging.getLogger("workers")
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
Module = Annotated[str, typer.Argument(help="Module whose @integration handlers to serve.")]
Prefetch = Annotated[
    int, typer.Option(min=1, envvar="WORKER_PREFETCH", help="Requests buffered per queue.")
]
Concurrency = Annotated[
    int, typer.Option(min=1, envvar="WORKER_CONCURRENCY", help="Calls at once, in all queues.")
]
AmqpUrl = Annotated[
    str | None,
    typer.Option("--amqp-url", help="Broker URL; default $AMQP_URL or the local broker."),
]


@app.command()
def main(
    module: Module,
    prefetch: Prefetch = DEFAULT_PREFETCH,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
    amqp_url_option: AmqpUrl = None,
) -> None:
    """Serve the service integrations MODULE registers until SIGTERM or SIGINT."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise typer.BadParameter(str(exc), param_hint="MODULE") from None
    except ValueError as exc:  # a refused @integration pattern
        raise typer.BadParameter(f"{module}: {exc}", param_hint="MODULE") from None
    if not registered_integrations():
        raise typer.BadParameter(
            f"{module} registers no integrations (decorate handlers with"
            " @workers.integrations.integration)",
            param_hint="MODULE",
        )
    try:
        level = log_level()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="LOG_LEVEL") from None
    configure_logging(level)
    url = amqp_url_option or amqp_url()
    try:
        run_service_loop(_serve_until_signalled(url, prefetch, concurrency))
    except BrokerUnreachable as exc:  # a refused login or virtual host: retrying cannot help
        log.error("%s", exc)
        raise typer.Exit(4) from None


async def _serve_until_signalled(url: str, prefetch: int, concurrency: int) -> None:
    """Serve, turning SIGTERM and SIGINT into a graceful stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, stop, signum)
    await serve_integrations(url=url, prefetch=prefetch, concurrency=concurrency, stop=stop)


def _on_signal(stop: asyncio.Event, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    stop.set()


if __name__ == "__main__":
    app()
