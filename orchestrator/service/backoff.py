"""Waiting after a fault of our own (a full disk, a store that cannot commit): exponential,
capped, and logged once per outage instead of once per attempt."""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger(__name__)


class Backoff:
    """Successive waits of ``first`` seconds doubling up to ``cap``, reset by :meth:`ok`.

    The first failure of an outage is logged as a warning, then one line per ``log_every``
    seconds while it lasts, and one when it ends.
    """

    def __init__(
        self, what: str, *, first: float = 0.05, cap: float = 5.0, log_every: float = 30.0
    ) -> None:
        self.what = what
        self.first = first
        self.cap = cap
        self.log_every = log_every
        self.failures = 0
        self._since = 0.0
        self._logged = 0.0

    @property
    def failing(self) -> bool:
        """Whether the last attempt failed."""
        return self.failures > 0

    def delay(self) -> float:
        """How long to wait before the next attempt."""
        return min(self.first * 2.0 ** min(self.failures - 1, 30), self.cap)

    async def failed(self, exc: BaseException) -> None:
        """Count a failed attempt, log it when due, and wait before the next one."""
        now = time.monotonic()
        if not self.failures:
            self._since = self._logged = now
            log.warning("%s failed (%s); retrying with backoff", self.what, exc)
        elif now - self._logged >= self.log_every:
            self._logged = now
            log.warning(
                "%s still failing after %.0f s and %d attempts (%s)",
                self.what,
                now - self._since,
                self.failures,
                exc,
            )
        self.failures += 1
        await asyncio.sleep(self.delay())

    def ok(self) -> None:
        """An attempt succeeded: the outage, if any, is over."""
        if self.failures:
            log.warning(
                "%s works again after %.1f s and %d failed attempts",
                self.what,
                time.monotonic() - self._since,
                self.failures,
            )
        self.failures = 0
