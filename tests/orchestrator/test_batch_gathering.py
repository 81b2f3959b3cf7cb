"""Under load the committer waits a moment for a fuller batch; at light load it does not
wait at all (orchestrator/service/handlers.py, GATHER_SECONDS)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from orchestrator.service.handlers import GATHER_UNTIL, GATHER_WHEN, Handlers, Work

NOTHING = cast(Any, None)  # the policy reads none of the engine, publisher or topology


def _handlers(gather_seconds: float) -> Handlers:
    return Handlers(NOTHING, NOTHING, NOTHING, gather_seconds=gather_seconds)


def _works(count: int) -> list[Work]:
    return [Work(NOTHING, "task-results", None, lambda: [], "a result") for _ in range(count)]


def _just_applied(handlers: Handlers, batch: int, ago: float = 0.0) -> None:
    """The previous batch held ``batch`` messages; its steps were done ``ago`` seconds ago."""
    handlers._last_batch = batch
    handlers._applied_at = asyncio.get_running_loop().time() - ago


async def _timed_gather(handlers: Handlers) -> float:
    started = time.monotonic()
    await handlers._gather()
    return time.monotonic() - started


async def test_after_a_small_batch_work_is_applied_without_waiting() -> None:
    handlers = _handlers(gather_seconds=0.5)
    handlers.enqueue(_works(1))
    _just_applied(handlers, GATHER_WHEN - 1)
    assert await _timed_gather(handlers) < 0.05


async def test_after_a_full_batch_the_committer_waits_for_more_work() -> None:
    handlers = _handlers(gather_seconds=0.2)
    handlers.enqueue(_works(1))
    _just_applied(handlers, GATHER_WHEN)
    waited = await _timed_gather(handlers)
    assert 0.18 <= waited < 1.0


async def test_the_wait_ends_as_soon_as_a_full_batch_is_queued() -> None:
    handlers = _handlers(gather_seconds=5.0)
    handlers.enqueue(_works(1))
    _just_applied(handlers, GATHER_UNTIL)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, handlers.enqueue, _works(GATHER_UNTIL - 1))
    waited = await _timed_gather(handlers)
    assert 0.04 <= waited < 1.0
    assert len(handlers.queued) == GATHER_UNTIL
    # Already full: no wait at all.
    assert await _timed_gather(handlers) < 0.05


async def test_no_gathering_when_it_is_turned_off() -> None:
    handlers = _handlers(gather_seconds=0.0)
    handlers.enqueue(_works(1))
    _just_applied(handlers, 200)
    assert await _timed_gather(handlers) < 0.05


async def test_the_wait_counts_from_when_the_batch_was_applied() -> None:
    """The previous batch's COMMIT overlaps the wait: only what is left of it is waited."""
    handlers = _handlers(gather_seconds=0.4)
    handlers.enqueue(_works(1))
    _just_applied(handlers, GATHER_WHEN, ago=0.3)
    waited = await _timed_gather(handlers)
    assert 0.08 <= waited < 0.3
    # A COMMIT that took the whole window leaves nothing to wait.
    _just_applied(handlers, GATHER_WHEN, ago=0.5)
    assert await _timed_gather(handlers) < 0.05
