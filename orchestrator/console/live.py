"""Which executions changed: the engine tells after each commit, open pages wait on it.

The engine calls :meth:`Changes.notify` with the ARN of an execution whose history a commit
extended; a console page streaming that execution (server-sent events) waits on
:meth:`Changes.wait` and reads the store only when something changed. Bounded: it remembers
the last :data:`MAX_REMEMBERED` executions that changed, and waiting costs no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict

# Executions whose change count is kept (an older one reads as "changed", which only makes a
# page read the store once more).
MAX_REMEMBERED = 10_000


class Changes:
    """A counter of commits per execution, and a wake-up for those waiting on any."""

    def __init__(self) -> None:
        self.version = 0
        self._versions: OrderedDict[str, int] = OrderedDict()
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.get_ident()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the waiters run on (notifications from other threads are passed to it)."""
        self._loop = loop
        self._thread = threading.get_ident()

    def notify(self, execution_arn: str) -> None:
        """``execution_arn``'s history grew (called by the engine after its commit)."""
        if self._loop is not None and threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self.notify, execution_arn)
            return
        self.version += 1
        self._versions[execution_arn] = self.version
        self._versions.move_to_end(execution_arn)
        while len(self._versions) > MAX_REMEMBERED:
            self._versions.popitem(last=False)
        event, self._event = self._event, asyncio.Event()
        event.set()

    def changed_since(self, execution_arn: str, version: int) -> bool:
        """Whether ``execution_arn`` changed after ``version`` (True when not remembered)."""
        seen = self._versions.get(execution_arn)
        return seen is None or seen > version

    async def wait(self, version: int, timeout: float) -> int:
        """Wait until anything changes after ``version`` or ``timeout`` passes; the version."""
        if self.version > version:
            return self.version
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        return self.version
