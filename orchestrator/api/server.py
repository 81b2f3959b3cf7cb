"""Serving the API with uvicorn inside the orchestrator's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from orchestrator.api.connections import ConnectionLimits, guarded_protocol


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service decides when to stop."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:
        return


class ApiServer:
    """A running API server; :meth:`stop` ends it gracefully.

    ``limits`` bounds its connections (how many, and how long a request may take to arrive).
    """

    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        limits: ConnectionLimits | None = None,
    ) -> None:
        limits = limits or ConnectionLimits()
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            http=guarded_protocol(limits),
            timeout_keep_alive=limits.keep_alive,
            h11_max_incomplete_event_size=limits.max_header_bytes,
        )
        self.server = _Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose, when created with port 0)."""
        sockets = [s for server in self.server.servers for s in (server.sockets or ())]
        return int(sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start serving; returns once the socket listens (raises if it cannot bind)."""
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # re-raise why it stopped (e.g. the port is taken)
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop accepting requests and finish the ones in flight."""
        if self.task is not None:
            self.server.should_exit = True
            await self.task
