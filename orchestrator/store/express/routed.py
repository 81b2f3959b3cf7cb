"""The store the engine is handed: EXPRESS executions in memory, everything else durable.

:class:`RoutedStore` answers the engine's store interface by sending each call where its
execution lives: an execution whose ARN is an EXPRESS one (``...:express:...``, see
:meth:`orchestrator.arns.Account.express_execution_arn`) to the in-memory
:class:`~orchestrator.store.express.ExpressStore`, any other to the durable store. A token
or a timer is looked up in memory first (a dict), an outbox id by its sign (memory's are
negative). Transactions (``batch``), listings, state machines, versions, tags, activities and
everything else are the durable store's. So the engine, the publisher and the timer loop run
one code path for both kinds of execution.

An asynchronous EXPRESS start is recorded once in the durable store and forgotten when the
execution ends (:mod:`orchestrator.store.express.starts`): after a crash it runs again from
its start (AWS runs asynchronous EXPRESS executions at least once). A start made inside
:meth:`RoutedStore.at_most_once` (StartSyncExecution, at most once on AWS) is not recorded.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from broker.topology import TASK_RESULTS_QUEUE
from orchestrator.asl.interpreter import ExecutionState, HistoryEvent
from orchestrator.store.express.memory import ExpressStore
from orchestrator.store.express.starts import ExpressStarts
from orchestrator.store.records import ExecutionRecord, OutboxMessage, Store

log = logging.getLogger(__name__)
# The holder of a recorded start refreshes its claim this often; a claim this old is a dead
# holder's, and another orchestrator (or the holder's next run) runs the execution again.
CLAIM_REFRESH_SECONDS = 2.0
CLAIM_STALE_SECONDS = 10.0


def is_express_arn(arn: str) -> bool:
    """Whether ``arn`` names an EXPRESS execution held in memory (``:express:``)."""
    return ":states:" in arn and ":express:" in arn


def replica_reply_queue(replica: str) -> str:
    """The reply queue of one orchestrator process: its EXPRESS tasks are answered there."""
    return f"{TASK_RESULTS_QUEUE}.{replica}"


class RoutedStore:
    """The engine's store: EXPRESS executions in ``express``, the rest in ``durable``.

    ``replica`` names this process (its reply queue and its claims on recorded starts);
    a new one is drawn by default.
    """

    def __init__(
        self,
        durable: Store,
        express: ExpressStore | None = None,
        *,
        replica: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.durable = durable
        self.replica = replica or uuid.uuid4().hex[:16]
        self.reply_queue = replica_reply_queue(self.replica)
        self.express = express if express is not None else ExpressStore()
        self.express.reply_queue = self.reply_queue
        self.clock = clock
        self._starts = durable if isinstance(durable, ExpressStarts) else None
        if self._starts is None:
            log.warning(
                "the store keeps no EXPRESS starts: an EXPRESS execution a crash"
                " interrupts is not run again"
            )
        self._recorded: set[str] = set()  # ARNs whose start is recorded durably
        self._unrecorded = False  # inside at_most_once()
        self._claimed_once = False

    def __getattr__(self, name: str) -> Any:
        # Everything not routed below is the durable store's (listings, state machines...).
        if name == "durable":  # not set yet (a copy being built): not the durable's either
            raise AttributeError(name)
        return getattr(self.durable, name)

    # -- executions ----------------------------------------------------------------------------

    def execution(self, state_machine: str, name: str) -> ExecutionRecord | None:
        """The execution called ``name`` (an EXPRESS one held in memory first)."""
        found = self.express.execution(state_machine, name)
        return found if found is not None else self.durable.execution(state_machine, name)

    def execution_by_token(self, token: str) -> ExecutionRecord | None:
        """The execution waiting for the task with ``token``."""
        found = self.express.execution_by_token(token)
        return found if found is not None else self.durable.execution_by_token(token)

    def execution_by_arn(self, arn: str) -> ExecutionRecord | None:
        """The execution ``arn`` (an EXPRESS one only while it is held in memory)."""
        if is_express_arn(arn):
            return self.express.execution_by_arn(arn)
        return self.durable.execution_by_arn(arn)

    def commit(
        self,
        record: ExecutionRecord,
        history: Sequence[HistoryEvent],
        outbox: Sequence[OutboxMessage],
        *,
        new: bool,
        created: float,
        previous: ExecutionState | None = None,
    ) -> list[int]:
        """Commit a step where its execution lives (see the module)."""
        state = record.state
        arn = state.execution_arn
        if not is_express_arn(arn):
            return self.durable.commit(
                record, history, outbox, new=new, created=created, previous=previous
            )
        # The durable record first: if writing it fails, nothing is held in memory either.
        if self._starts is not None:
            if new and state.status == "RUNNING" and not self._unrecorded:
                self._starts.add_express_start(
                    arn, _start_record(record), self.replica, self.clock()
                )
                self._recorded.add(arn)
            elif state.status != "RUNNING" and arn in self._recorded:
                self._starts.forget_express_start(arn)
                self._recorded.discard(arn)
        return self.express.commit(
            record, history, outbox, new=new, created=created, previous=previous
        )

    def at_most_once(self) -> AbstractContextManager[None]:
        """Starts made inside are not recorded: a crash loses them (StartSyncExecution)."""
        return self._at_most_once()

    @contextmanager
    def _at_most_once(self) -> Iterator[None]:
        self._unrecorded = True
        try:
            yield
        finally:
            self._unrecorded = False

    # -- history and askers --------------------------------------------------------------------

    def history(
        self,
        execution_arn: str,
        first: int = 1,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """The execution's history events (an EXPRESS one's kept events while held)."""
        target = self.express if is_express_arn(execution_arn) else self.durable
        return target.history(execution_arn, first, limit, newest_first=newest_first)

    def last_event_id(self, execution_arn: str) -> int:
        """The id of the execution's newest (kept) history event."""
        if is_express_arn(execution_arn):
            return self.express.last_event_id(execution_arn)
        return self.durable.last_event_id(execution_arn)

    def waiters(self, execution_arn: str) -> list[tuple[str, str | None]]:
        """(reply_to, correlation_id) of the execution's other askers."""
        if is_express_arn(execution_arn):
            return self.express.waiters(execution_arn)
        return self.durable.waiters(execution_arn)

    def add_waiter(self, execution_arn: str, reply_to: str, correlation_id: str | None) -> bool:
        """Answer ``reply_to`` too when the execution ends; False when it has too many."""
        if is_express_arn(execution_arn):
            return self.express.add_waiter(execution_arn, reply_to, correlation_id)
        return self.durable.add_waiter(execution_arn, reply_to, correlation_id)

    # -- timers --------------------------------------------------------------------------------

    def due_timers(self, now: float, limit: int = 500) -> list[tuple[str, str]]:
        """Due timers of both stores, those in memory first (they are cheap to fire)."""
        found = self.express.due_timers(now, limit)
        if len(found) < limit:
            found += self.durable.due_timers(now, limit - len(found))
        return found

    def next_timer_due(self) -> float | None:
        """When the soonest timer of either store is due (epoch seconds)."""
        dues = [
            d
            for d in (self.express.next_timer_due(), self.durable.next_timer_due())
            if d is not None
        ]
        return min(dues) if dues else None

    def delete_timer(self, timer: str) -> None:
        """Forget a timer that no longer applies."""
        if self.express.has_timer(timer):
            self.express.delete_timer(timer)
        else:
            self.durable.delete_timer(timer)

    def postpone_timer(self, timer: str, due: float) -> None:
        """Move a timer that could not be fired to ``due`` (epoch seconds)."""
        if self.express.has_timer(timer):
            self.express.postpone_timer(timer, due)
        else:
            self.durable.postpone_timer(timer, due)

    # -- outbox --------------------------------------------------------------------------------

    def enqueue(self, outbox: Sequence[OutboxMessage], *, created: float) -> list[int]:
        """Add messages on their own (an answer to a late asker): the durable outbox."""
        return self.durable.enqueue(outbox, created=created)

    def outbox_messages(self, ids: Iterable[int]) -> list[OutboxMessage]:
        """The unpublished messages among ``ids``: the durable ones, then those in memory."""
        wanted = list(ids)
        durable = [i for i in wanted if i > 0]
        found = self.durable.outbox_messages(durable) if durable else []
        if len(durable) < len(wanted):
            found += self.express.outbox_messages(i for i in wanted if i < 0)
        return found

    def delete_outbox(self, ids: Iterable[int]) -> None:
        """Forget messages the broker has confirmed."""
        wanted = list(ids)
        durable = [i for i in wanted if i > 0]
        if durable:
            self.durable.delete_outbox(durable)
        if len(durable) < len(wanted):
            self.express.delete_outbox(i for i in wanted if i < 0)

    def pending_outbox(self, older_than: float | None = None) -> list[OutboxMessage]:
        """Unpublished messages of both outboxes."""
        return self.durable.pending_outbox(older_than) + self.express.pending_outbox(older_than)

    def claim_outbox(self, older_than: float) -> list[OutboxMessage]:
        """Messages left unsent for the sweeper: the durable ones it claims, and this
        process's own in memory (no other process can send those)."""
        return self.durable.claim_outbox(older_than) + self.express.pending_outbox(older_than)

    # -- recorded starts -----------------------------------------------------------------------

    def refresh_claims(self) -> None:
        """Keep this process's claims on its recorded starts fresh (it is alive)."""
        self.express.forget_expired()
        if self._starts is not None and self._recorded:
            self._starts.refresh_express_claims(self.replica, self.clock())

    def claim_stale_starts(self, limit: int = 100) -> list[tuple[str, dict[str, Any]]]:
        """Recorded starts to run again: of a dead holder (its claim is stale), and at the
        first call, when the store is one process's alone (SQLite), every one left by an
        earlier run. (ARN, record) of each, now claimed by this process."""
        if self._starts is None:
            return []
        now = self.clock()
        stale_before = now - CLAIM_STALE_SECONDS
        if not self._claimed_once and self._starts.express_claims_exclusive:
            stale_before = float("inf")
        self._claimed_once = True
        claimed = self._starts.claim_express_starts(self.replica, stale_before, now, limit)
        found = []
        for arn, text in claimed:
            try:
                found.append((arn, json.loads(text)))
            except ValueError as exc:  # unreadable: it cannot run again; say so, drop it
                log.error("the recorded start of %s cannot be read (%s); dropped", arn, exc)
                self._starts.forget_express_start(arn)
        return found

    def forget_start(self, arn: str) -> None:
        """A recorded start that cannot run again (its state machine is gone)."""
        if self._starts is not None:
            self._starts.forget_express_start(arn)
            self._recorded.discard(arn)


def release_express_name(store: object, state_machine: str, name: str) -> None:
    """Let ``name`` start a new EXPRESS execution of ``state_machine`` (AWS's StartExecution
    and StartSyncExecution are not idempotent for EXPRESS): the one held under that name
    stays readable by its ARN. An intake start keeps its name (a redelivery starts nothing)."""
    if isinstance(store, RoutedStore):
        store.express.release_name(state_machine, name)


def at_most_once(store: object) -> AbstractContextManager[None]:
    """:meth:`RoutedStore.at_most_once` of ``store``, or nothing for another store."""
    return store.at_most_once() if isinstance(store, RoutedStore) else nullcontext()


def _start_record(record: ExecutionRecord) -> str:
    """What running an EXPRESS execution again from its start needs, as JSON."""
    state = record.state
    return json.dumps(
        {
            "state_machine": state.state_machine_name,
            "name": state.execution_name,
            "input": state.input,
            "reply_to": record.reply_to,
            "correlation_id": record.correlation_id,
            "definition_hash": record.definition_hash,
            "test_case": state.test_case,
            "parent": state.parent,
        },
        separators=(",", ":"),
    )
