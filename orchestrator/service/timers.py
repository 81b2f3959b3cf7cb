"""Firing stored timers as they fall due: Wait, Retry backoff, timeouts, heartbeats.

Timers are rows in the store, so a restart re-arms them: the first pass fires every timer
that fell due while the service was down. Each timer is fired on its own, so one that fails
cannot hold the others back:

- the store failing (a full disk) is our fault: the loop backs off and tries again, and the
  timer stays due;
- a timer whose firing raises is that execution's problem: the engine fails the execution
  with States.Runtime; if even that cannot be done (its stored state cannot be read), the
  timer is moved an hour on (so it is not retried in a tight loop) and the error logged;
- a timer whose firing killed the process (the crash guard's marker says so) is not fired
  again: it is dropped and its execution fails with States.Runtime, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from orchestrator.engine import Engine
from orchestrator.service.backoff import Backoff
from orchestrator.service.clock import SteadyClock
from orchestrator.service.crash_guard import CrashGuard
from orchestrator.store import ExecutionBusy, is_store_fault

log = logging.getLogger(__name__)
# How far a timer that raised is moved on before it is tried again.
POSTPONE_SECONDS = 3600.0
# Due timers taken per pass: the loop yields to the event loop between passes.
BATCH = 200
# How long a pass waits after finding a due timer's execution busy in another replica.
BUSY_WAIT_SECONDS = 0.01

Publish = Callable[[list[int]], Awaitable[None]]


def timer_key(timer: str) -> str:
    """The crash guard's key for a timer."""
    return "timer:" + timer


async def fire_timers(
    engine: Engine,
    publish: Publish,
    stop: asyncio.Event,
    *,
    clock: SteadyClock,
    guard: CrashGuard | None = None,
    poll: float = 0.2,
    wake: asyncio.Event | None = None,
) -> None:
    """Fire due timers until ``stop`` is set; ``wake`` cuts a wait short (a timer due at
    once was set: a step that spent its budget goes on without waiting for the poll)."""
    backoff = Backoff("firing timers (the store)")
    while not stop.is_set():
        try:
            due = engine.store.due_timers(clock.now(), BATCH)
        except Exception as exc:
            await backoff.failed(exc)
            continue
        busy = False
        for timer, execution_arn in due:
            try:
                ids = _fire(engine, guard, timer, execution_arn)
            except ExecutionBusy:  # another replica is stepping it: the next pass fires it
                busy = True
                continue
            except Exception as exc:
                if is_store_fault(exc):
                    await backoff.failed(exc)
                    break
                _postpone(engine, timer, execution_arn, exc, clock)
                continue
            backoff.ok()
            if ids:
                try:
                    await publish(ids)
                except Exception as exc:  # committed: the outbox sweeper sends it later
                    log.warning("publishing a timer's messages failed: %s", exc)
        else:
            if len(due) == BATCH:
                await asyncio.sleep(0)  # more are due: let the consumers in between passes
                continue
            try:
                next_due = engine.store.next_timer_due()
            except Exception as exc:
                await backoff.failed(exc)
                continue
            now = clock.now()
            wait = poll if next_due is None else min(max(next_due - now, 0.0), poll)
            if busy:  # not at once: the replica stepping it commits first
                wait = max(wait, BUSY_WAIT_SECONDS)
            if wake is None or wait <= 0:
                await asyncio.sleep(wait)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
                wake.clear()


def _fire(
    engine: Engine, guard: CrashGuard | None, timer: str, execution_arn: str
) -> list[int] | None:
    """Fire one timer under the crash guard's marker."""
    if guard is None:
        return engine.fire_timer(timer, execution_arn)
    key = timer_key(timer)
    verdict = guard.verdict(key)
    if verdict == "set aside":
        reason = guard.reason(key)
        log.error("timer %s of %s is not fired again: %s", timer, execution_arn, reason)
        engine.store.delete_timer(timer)
        # Its execution would wait for it forever: it fails, saying why.
        return engine.fail_execution(execution_arn, f"Firing one of its timers {reason}.")
    with guard.applying([key]):
        ids = engine.fire_timer(timer, execution_arn)
    if verdict == "alone":
        guard.survived(key)
    return ids


def _postpone(
    engine: Engine, timer: str, execution_arn: str, exc: Exception, clock: SteadyClock
) -> None:
    log.error(
        "firing timer %s of %s failed; it is tried again in %.0f s",
        timer,
        execution_arn,
        POSTPONE_SECONDS,
        exc_info=exc,
    )
    try:
        engine.store.postpone_timer(timer, clock.now() + POSTPONE_SECONDS)
    except Exception as inner:  # the store is failing too: the next pass sees it
        log.warning("postponing timer %s failed: %s", timer, inner)
