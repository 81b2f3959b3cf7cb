"""The service's part in running EXPRESS executions in memory (see orchestrator.store.express.routed).

- This process's reply queue is declared and consumed like the shared task-results queue:
  the tasks of the EXPRESS executions it holds are answered there.
- Recorded asynchronous EXPRESS starts whose holder died (and, at startup with a SQLite
  store, every one an earlier run left) are claimed and run again from their start: AWS runs
  asynchronous EXPRESS executions at least once. This process's own claims are kept fresh.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aio_pika.abc import AbstractRobustChannel

import messages
from broker import Consumer, Delivery, Topology, consume
from orchestrator.engine import Engine, StartRejected
from orchestrator.store.express.routed import (
    CLAIM_REFRESH_SECONDS,
    CLAIM_STALE_SECONDS,
    RoutedStore,
)

log = logging.getLogger(__name__)
# The broker deletes a process's reply queue this long after its consumer went away.
REPLY_QUEUE_EXPIRES_SECONDS = 4 * CLAIM_STALE_SECONDS

Publish = Callable[[list[int]], Awaitable[None]]
OnDelivery = Callable[[Delivery], Awaitable[None]]


async def consume_replies(
    channel: AbstractRobustChannel, topology: Topology, store: RoutedStore, on_result: OnDelivery
) -> Consumer:
    """Declare this process's reply queue and consume it with ``on_result``."""
    await topology.replica_queue(store.reply_queue, REPLY_QUEUE_EXPIRES_SECONDS)
    return await consume(channel, store.reply_queue, on_result)


class Reruns:
    """Runs recorded EXPRESS starts again (see the module); one per service."""

    def __init__(self, engine: Engine, store: RoutedStore) -> None:
        self.engine = engine
        self.store = store
        # Claimed starts not yet run again: no room for them in memory at the time.
        self._waiting: dict[str, dict[str, Any]] = {}

    async def run_claimed(self, publish: Publish) -> int:
        """Claim the starts to run again, run them and ``publish`` what they sent; how many
        started."""
        for arn, record in self.store.claim_stale_starts():
            self._waiting[arn] = record
        started = 0
        ids: list[int] = []
        with self.store.batch():
            for arn, record in list(self._waiting.items()):
                try:
                    found = self._rerun(arn, record)
                except StartRejected as exc:
                    if exc.error == "ExecutionLimitExceeded":  # later, when there is room
                        break
                    log.error("EXPRESS execution %s cannot run again: %s", arn, exc)
                    self.store.forget_start(arn)
                    found = None
                del self._waiting[arn]
                if found is not None:
                    ids += found
                    started += 1
                held = self.store.express.execution_by_arn(arn)
                if held is None or held.state.status != "RUNNING":
                    self.store.forget_start(arn)  # ended at once, or not started
        if ids:
            await publish(ids)
        if started:
            log.warning(
                "ran %d EXPRESS execution(s) again from their start (their orchestrator"
                " stopped before they ended)",
                started,
            )
        return started

    def _rerun(self, arn: str, record: dict[str, Any]) -> list[int] | None:
        """Start the execution ``arn`` again, as it was started (its ARN kept)."""
        name = str(record.get("state_machine"))
        digest = record.get("definition_hash")
        machine = None
        if isinstance(digest, str):
            if self.engine.current.get(name) == digest:
                machine = self.engine.machines[name]
            else:  # updated since it started: it runs the definition it started with
                base = self.engine.machine_of(digest, arn)
                machine = dataclasses.replace(base, type="EXPRESS") if base else None
        if machine is None or not isinstance(digest, str):
            log.error("EXPRESS execution %s cannot run again: its definition is gone", arn)
            self.store.forget_start(arn)
            return None
        parent = record.get("parent")
        request = messages.IntakeRequest.model_construct(
            state_machine=name,
            execution_name=record.get("name"),
            input=record.get("input"),
            reply_to=record.get("reply_to"),
            correlation_id=record.get("correlation_id"),
            test_case=record.get("test_case"),
            parent=messages.ParentLink.model_validate(parent) if parent else None,
        )
        return self.engine.start(request, pinned=(machine, digest), execution_arn=arn)

    async def forever(self, publish: Publish, every_seconds: float = CLAIM_REFRESH_SECONDS) -> None:
        """Refresh this process's claims and take stale ones, until cancelled."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                self.store.refresh_claims()
                await self.run_claimed(publish)
            except Exception as exc:  # the next round tries again; the service goes on
                log.warning("keeping the EXPRESS starts' claims failed: %s", exc)
