"""``python -m workers NAME``: run one function as a worker process until SIGTERM or SIGINT.

NAME is a short name (open, assign, work, close, escalate) or a full function name such as
``OpenCaseFunction``; ``--import MODULE`` loads your own functions (registered with
``@workers.runtime.function``) so that NAME can be one of them. ``LOG_LEVEL`` (default INFO)
sets what it logs. The process exits 0 after a graceful stop: the request in flight is
finished and answered, buffered requests go back to the queue. It exits 2 for an invalid
name or option, 4 when RabbitMQ refuses its login or virtual host; while RabbitMQ is merely
down it waits, saying so once per retry period.
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
from workers.callcenter import CLI_NAMES
from workers.consumer import DEFAULT_PREFETCH, serve
from workers.runtime import Function, get_function, registered_functions

log = logging.getLogger("workers")
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def resolve(name: str) -> Function:
    """The function a CLI name means; ``typer.BadParameter`` (exit 2) listing valid names."""
    full_name = CLI_NAMES.get(name, name)
    if full_name in registered_functions():
        return get_function(full_name)
    valid = ", ".join([*CLI_NAMES, *sorted(registered_functions())])
    raise typer.BadParameter(f"unknown function {name!r}; valid names: {valid}", param_hint="NAME")


@app.command()
def main(
    name: Annotated[
        str, typer.Argument(help="open, assign, work, close, escalate, or a full name")
    ],
    prefetch: Annotated[
        int,
        typer.Option(min=1, envvar="WORKER_PREFETCH", help="Requests buffered from the broker."),
    ] = DEFAULT_PREFETCH,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="WORKER_CONCURRENCY",
            help="Requests handled at once (at most the prefetch; 1 keeps delivery order).",
        ),
    ] = 1,
    amqp_url_option: Annotated[
        str | None,
        typer.Option("--amqp-url", help="Broker URL; default $AMQP_URL or the local broker."),
    ] = None,
    modules: Annotated[
        list[str] | None,
        typer.Option("--import", help="Module defining more functions (repeatable)."),
    ] = None,
) -> None:
    """Serve one function from its RabbitMQ queue until SIGTERM or SIGINT."""
    for module in modules or []:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise typer.BadParameter(str(exc), param_hint="--import") from None
    fn = resolve(name)
    if concurrency > prefetch:
        raise typer.BadParameter(f"at most the prefetch ({prefetch})", param_hint="--concurrency")
    try:
        level = log_level()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="LOG_LEVEL") from None
    configure_logging(level)
    serving = _serve_until_signalled(fn, amqp_url_option or amqp_url(), prefetch, concurrency)
    try:
        run_service_loop(serving)
    except BrokerUnreachable as exc:  # a refused login or virtual host: retrying cannot help
        log.error("%s", exc)
        raise typer.Exit(4) from None


async def _serve_until_signalled(fn: Function, url: str, prefetch: int, concurrency: int) -> None:
    """Run the worker, turning SIGTERM and SIGINT into a graceful stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, stop, signum)
    await serve(fn, url=url, prefetch=prefetch, concurrency=concurrency, stop=stop)


def _on_signal(stop: asyncio.Event, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    stop.set()


if __name__ == "__main__":
    app()
