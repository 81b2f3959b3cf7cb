"""Bounding the API's connections: how many, and how long each may take to send a request.

uvicorn's HTTP/1.1 protocol (h11) has a keep-alive timeout once a response is sent, but none
for a connection that never sends a request, nor for request headers or a body that trickle
in: thousands of idle sockets kept the process at its descriptor limit and the API stopped
answering. :func:`guarded_protocol` makes a protocol class that adds:

* a deadline for each request's headers, counted from when the connection opened or its
  last response ended (a slow-loris client cannot extend it by sending a byte at a time);
* a deadline for the body, counted from the end of the headers;
* a cap on open connections: past it, the connection idle the longest (waiting for a request)
  is closed to make room, or the new one if every connection is busy.

While the application works on a request, no deadline applies (its own bounds do).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    """The API server's bounds on connections."""

    max_connections: int = 1000
    header_timeout: float = 10.0  # to send a request's headers, once connected or idle
    body_timeout: float = 30.0  # to send the body, once the headers arrived
    keep_alive: int = 5  # an idle keep-alive connection is closed after this (uvicorn's)
    max_header_bytes: int = 16_384  # a request line and headers larger than this: 400


@dataclass
class _Shedding:
    """Connections closed to stay under the cap, and when that was last logged."""

    closed: int = 0
    logged_at: float = float("-inf")


# A flood closes connections by the thousand: one log line per this many seconds says so.
_LOG_EVERY_SECONDS = 10.0


class _Guarded(H11Protocol):
    """H11Protocol with request deadlines and a connection cap (see the module docstring)."""

    limits: ClassVar[ConnectionLimits]
    # Connections waiting for a request, the longest-waiting first (one registry per server).
    idle: ClassVar[OrderedDict[_Guarded, None]]
    shedding: ClassVar[_Shedding]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for_body = False
        super().connection_made(transport)
        self._wait_for_request()
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.idle.pop(self, None)
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        cycle = self.cycle
        if cycle is None or cycle.response_complete or self.transport.is_closing():
            return  # still waiting for a request: its deadline runs on
        self.idle.pop(self, None)
        if cycle.more_body:
            if not self._waiting_for_body:
                self._waiting_for_body = True
                self._arm(self.limits.body_timeout, "its request body")
        else:  # the request is complete: the application has it
            self._waiting_for_body = False
            self._disarm()

    def on_response_complete(self) -> None:
        # Before uvicorn's handler, which may start on a pipelined request at once.
        self._wait_for_request()
        super().on_response_complete()

    def _wait_for_request(self) -> None:
        self._waiting_for_body = False
        self.idle[self] = None
        self.idle.move_to_end(self)
        self._arm(self.limits.header_timeout, "a request")

    def _make_room(self) -> None:
        """Close the connection idle the longest; this new one if none is idle."""
        next(iter(self.idle), self)._close()
        shedding = self.shedding
        shedding.closed += 1
        now = time.monotonic()
        if now - shedding.logged_at >= _LOG_EVERY_SECONDS:
            log.warning(
                "the API is at its limit of %d connections: closed %d (the longest idle,"
                " or new ones when none was idle) since the last such message",
                self.limits.max_connections,
                shedding.closed,
            )
            shedding.closed, shedding.logged_at = 0, now

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, what: str, seconds: float) -> None:
        self._deadline = None
        log.debug("closing an API connection that sent no %s in %.0f s", what, seconds)
        self._close()

    def _close(self) -> None:
        self.idle.pop(self, None)
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """A protocol class for one server (``uvicorn.Config(http=...)``) bounded by ``limits``."""
    attributes: dict[str, Any] = {"limits": limits, "idle": OrderedDict(), "shedding": _Shedding()}
    return type("GuardedH11Protocol", (_Guarded,), attributes)
