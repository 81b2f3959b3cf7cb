"""Serving service integrations from their RabbitMQ queues.

Each ``(service, action)`` is served from ``integration_queue(service, action)`` by an
:class:`IntegrationWorker`: the function worker's loop (:class:`workers.consumer.Worker`:
prefetch, each reply confirmed by the broker before the request is acked, bad messages
dead-lettered with their reason, buffered ones handed back on a graceful stop) fed with
:class:`~messages.IntegrationRequest` instead of Lambda requests. Handlers are synchronous,
so each call runs in a thread; one semaphore bounds the calls running at once across all the
queues a process serves. Each queue has its own connection, as each function worker has.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping, Sequence

from broker.topology import integration_queue
from messages import AnyTaskResult, IntegrationRequest
from workers.consumer import DEFAULT_PREFETCH, Prepared, Worker
from workers.integrations import (
    Integration,
    IntegrationHandler,
    call_integration,
    registered_integrations,
)
from workers.runtime import Context, Function

__all__ = ["DEFAULT_CONCURRENCY", "IntegrationWorker", "serve_integrations"]

log = logging.getLogger(__name__)
# Calls running at once in one process: integration handlers mostly wait on I/O.
DEFAULT_CONCURRENCY = 4


def _never_invoked(event: object, context: Context) -> None:
    """The handler of the :class:`Function` that names an :class:`IntegrationWorker` in the
    loop's logs; never called: the worker runs integration requests itself."""
    raise AssertionError("an integration worker invokes no Lambda function")


class IntegrationWorker(Worker):
    """Serves ``service``:``action`` with ``handler`` from its integration queue until told
    to stop.

    ``running`` bounds the calls in flight; share one among the workers of a process to bound
    them all together (default: a bound of ``concurrency`` for this worker alone).
    """

    def __init__(
        self,
        service: str,
        action: str,
        handler: IntegrationHandler,
        *,
        url: str | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        concurrency: int = 1,
        running: asyncio.Semaphore | None = None,
    ) -> None:
        name = f"{service}:{action}"
        super().__init__(
            Function(name, _never_invoked), url=url, prefetch=prefetch, concurrency=concurrency
        )
        # The loop names its queue after a function; this worker's queue is the integration's.
        self.queue_name = integration_queue(service, action)
        self.service = service
        self.action = action
        self.handler = handler
        self._running = running or asyncio.Semaphore(concurrency)

    def _prepare(self, body: bytes) -> Prepared:
        """Parse an integration request: its task token, and the call that answers it."""
        request = IntegrationRequest.from_wire(body)
        if (request.service, request.action) != (self.service, self.action):
            # As for functions: routing is by queue, and a mismatch is worth seeing, not a
            # reason to refuse the work (the handler sees what the request asked for).
            log.warning(
                "request for %s:%s arrived on %s", request.service, request.action, self.queue_name
            )
        return request.task_token, functools.partial(self._call, request)

    async def _call(self, request: IntegrationRequest) -> list[AnyTaskResult]:
        # A thread: a synchronous handler must not stall the connection's heartbeats.
        async with self._running:
            return await asyncio.to_thread(call_integration, self.handler, request)


async def serve_integrations(
    integrations: Mapping[tuple[str, str], Integration] | None = None,
    *,
    url: str | None = None,
    prefetch: int = DEFAULT_PREFETCH,
    concurrency: int = DEFAULT_CONCURRENCY,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve ``integrations`` (default: every registered one) until ``stop`` is set.

    ``prefetch`` is per queue; at most ``concurrency`` calls run at once in all. ``ready`` is
    set once every queue's consumer is registered. A worker that fails (RabbitMQ refusing
    the login) stops the others and its exception is raised.
    """
    table = registered_integrations() if integrations is None else integrations
    if not table:
        raise ValueError("no integrations to serve: register handlers with @integration")
    if prefetch < 1 or concurrency < 1:
        raise ValueError(f"prefetch and concurrency must be at least 1: {prefetch}, {concurrency}")
    running = asyncio.Semaphore(concurrency)
    workers = [
        IntegrationWorker(
            service,
            action,
            served.handler,
            url=url,
            prefetch=prefetch,
            # One queue may use the whole bound, which ``running`` enforces for all queues.
            concurrency=min(concurrency, prefetch),
            running=running,
        )
        for (service, action), served in sorted(table.items())
    ]
    started = [asyncio.Event() for _ in workers]
    announcing = asyncio.create_task(_announce(workers, started, ready))
    try:
        async with asyncio.TaskGroup() as group:
            for worker, subscribed in zip(workers, started, strict=True):
                group.create_task(worker.run(stop, subscribed))
    except ExceptionGroup as failed:
        # The same failure (a refused login) usually ends every worker: report the first.
        raise failed.exceptions[0] from None
    finally:
        announcing.cancel()


async def _announce(
    workers: Sequence[IntegrationWorker],
    started: Sequence[asyncio.Event],
    ready: asyncio.Event | None,
) -> None:
    """Say once that every queue is being consumed, and set ``ready``."""
    for subscribed in started:
        await subscribed.wait()
    log.info(
        "serving %d integration queues: %s",
        len(workers),
        ", ".join(worker.queue_name for worker in workers),
    )
    if ready is not None:
        ready.set()
