"""EXPRESS executions in memory: the part of the store the engine steps them with.

AWS runs an EXPRESS execution without a durable history: at most 5 minutes, at-least-once
when started asynchronously, at-most-once through StartSyncExecution, its events sent to
CloudWatch Logs if the user asks (the "Express Workflows" section of Step Functions'
developer guide). So its steps are not committed to the durable store: this store holds a
running execution's state, its task tokens, timers, waiting askers and unsent messages in
dicts, and a bounded record of it (the first ``history_kept`` events and the final one)
while it runs and for a while after it ends, so that StartSyncExecution, the console and
``history`` can read it. :mod:`orchestrator.store.express.routed` puts it beside the durable store.

Bounds: at most ``capacity`` executions are held. A new one takes the place of the oldest
finished one; when all are running, the start is refused (:class:`ExecutionLimit`, AWS's
ExecutionLimitExceeded). A finished one is forgotten ``keep_seconds`` after it ended.

Outbox ids are negative, so they never collide with the durable store's (positive) ones.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from broker.topology import TASK_RESULTS_QUEUE
from orchestrator.asl.interpreter import ExecutionState, HistoryEvent
from orchestrator.store.records import ExecutionExists, ExecutionRecord, OutboxMessage

# Executions held at once (running and recently finished).
EXPRESS_CAPACITY = 10_000
# How long a finished execution stays readable (StartSyncExecution, the console, `history`).
EXPRESS_KEEP_SECONDS = 300.0
# The first this many history events of an execution are kept, and its final one: an
# EXPRESS execution may run 5 minutes of steps, and all of it is held in memory.
EXPRESS_HISTORY_KEPT = 1_000
# Askers of a running execution besides the one that started it (as the durable store).
MAX_WAITERS = 100


class ExecutionLimit(Exception):
    """No room for another EXPRESS execution: every one held is still running."""


@dataclasses.dataclass
class _Held:
    """One execution held: its latest record, its kept history and its other askers."""

    record: ExecutionRecord
    history: list[HistoryEvent]
    waiters: list[tuple[str, str | None]] = dataclasses.field(default_factory=list)


class ExpressStore:
    """Running and recently finished EXPRESS executions, in memory (see the module).

    ``reply_queue``: where this process's EXPRESS tasks are answered (a queue of its own, so
    that with several orchestrators a worker's result comes back to the one that holds the
    execution); None keeps the shared task-results queue. ``clock`` gives epoch seconds.
    """

    def __init__(
        self,
        *,
        capacity: int = EXPRESS_CAPACITY,
        keep_seconds: float = EXPRESS_KEEP_SECONDS,
        history_kept: int = EXPRESS_HISTORY_KEPT,
        reply_queue: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.capacity = capacity
        self.keep_seconds = keep_seconds
        self.history_kept = history_kept
        self.reply_queue = reply_queue
        self.clock = clock
        self._held: dict[str, _Held] = {}  # by ARN
        self._names: dict[tuple[str, str], str] = {}  # (state machine, name) -> ARN
        self._tokens: dict[str, str] = {}  # task token -> ARN
        self._timers: dict[str, tuple[float, str]] = {}  # timer id -> (due, ARN)
        self._due: list[tuple[float, str]] = []  # (due, timer id); stale entries skipped
        self._finished: OrderedDict[str, float] = OrderedDict()  # ARN -> when it ended
        self._outbox: dict[int, tuple[OutboxMessage, float]] = {}  # id -> (message, created)
        self._ids = itertools.count(-1, -1)

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._held)

    def holds(self, arn: str) -> bool:
        """Whether the execution ``arn`` is held here."""
        return arn in self._held

    def running(self) -> list[str]:
        """The ARNs of the running executions held here."""
        return [arn for arn in self._held if arn not in self._finished]

    def execution(self, state_machine: str, name: str) -> ExecutionRecord | None:
        """The latest execution called ``name`` of ``state_machine`` held here, if any."""
        arn = self._names.get((state_machine, name))
        return self._held[arn].record if arn is not None else None

    def release_name(self, state_machine: str, name: str) -> None:
        """Find no execution by ``name`` any more (it stays by its ARN): the next start of
        that name is a new execution."""
        self._names.pop((state_machine, name), None)

    def execution_by_arn(self, arn: str) -> ExecutionRecord | None:
        """The execution ``arn``, if it is held here."""
        held = self._held.get(arn)
        return held.record if held is not None else None

    def execution_by_token(self, token: str) -> ExecutionRecord | None:
        """The execution waiting for the task with ``token``, if it is held here."""
        arn = self._tokens.get(token)
        return self._held[arn].record if arn is not None else None

    def history(
        self,
        execution_arn: str,
        first: int = 1,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """The kept events of a held execution in AWS's shape (the durable store's form)."""
        held = self._held.get(execution_arn)
        if held is None:
            return []
        if newest_first:
            events = [e for e in reversed(held.history) if e.id <= first]
        else:
            events = [e for e in held.history if e.id >= first]
        if limit is not None:
            events = events[:limit]
        return [e.to_aws() for e in events]

    def last_event_id(self, execution_arn: str) -> int:
        """The id of the newest kept event of a held execution (0 for none)."""
        held = self._held.get(execution_arn)
        return held.history[-1].id if held is not None and held.history else 0

    def waiters(self, execution_arn: str) -> list[tuple[str, str | None]]:
        """(reply_to, correlation_id) of the execution's other askers."""
        held = self._held.get(execution_arn)
        return list(held.waiters) if held is not None else []

    def add_waiter(self, execution_arn: str, reply_to: str, correlation_id: str | None) -> bool:
        """Answer ``reply_to`` too when the execution ends; False when it has too many."""
        held = self._held.get(execution_arn)
        if held is None or len(held.waiters) >= MAX_WAITERS:
            return False
        if (reply_to, correlation_id) not in held.waiters:
            held.waiters.append((reply_to, correlation_id))
        return True

    # -- stepping ------------------------------------------------------------------------------

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
        """Hold the execution's new state, its kept history, tokens, timers and messages.

        Raises :class:`ExecutionExists` when ``new`` and the ARN is held, and
        :class:`ExecutionLimit` when ``new`` and every place is taken by a running one.
        """
        state = record.state
        arn = state.execution_arn
        if new:
            if arn in self._held:
                raise ExecutionExists(arn)
            self._make_room()
            held = _Held(record, [])
            self._held[arn] = held
            self._names[(state.state_machine_name, state.execution_name)] = arn
        else:
            found = self._held.get(arn)
            if found is None:  # forgotten meanwhile (it ended long ago): nothing to step
                return []
            held = found
            held.record = record
        self._keep_history(held, history, running=state.status == "RUNNING")
        self._index(arn, state, previous)
        if state.status != "RUNNING" and arn not in self._finished:
            self._finished[arn] = self.clock()
            held.waiters.clear()  # the engine read them for this very step
        return self._add_outbox(self._routed(state, outbox), created)

    def _keep_history(self, held: _Held, history: Sequence[HistoryEvent], *, running: bool) -> None:
        room = self.history_kept - len(held.history)
        if room >= len(history):
            held.history.extend(history)
            return
        if room > 0:
            held.history.extend(history[:room])
        if not running and history and (not held.history or held.history[-1] is not history[-1]):
            held.history.append(history[-1])  # the final event is always kept

    def _index(self, arn: str, state: ExecutionState, previous: ExecutionState | None) -> None:
        """Follow the tokens and timers the step changed (the maps share the rest)."""
        if previous is not None:
            tokens, gone = state.tokens.changes_from(previous.tokens)
            timers, stopped = state.timers.changes_from(previous.timers)
        else:
            tokens, gone = list(state.tokens), []
            timers, stopped = list(state.timers), []
        for token in gone:
            self._tokens.pop(token, None)
        for token in tokens:
            self._tokens[token] = arn
        for timer in stopped:
            self._timers.pop(timer, None)
        for timer in timers:
            due = _epoch(state.timers[timer].due)
            self._timers[timer] = (due, arn)
            heapq.heappush(self._due, (due, timer))
        if len(self._due) > 2 * len(self._timers) + 1024:
            # Every execution leaves its 5-minute timer behind when it ends early: entries
            # the heap would skip only once they fall due. Rebuilt, it stays bounded.
            self._due = [(due, timer) for timer, (due, _) in self._timers.items()]
            heapq.heapify(self._due)

    def _routed(
        self, state: ExecutionState, outbox: Sequence[OutboxMessage]
    ) -> list[OutboxMessage]:
        """The messages, with this process's reply queue for the execution's own tasks: a
        task's reply, and an answer the engine sends itself to one of its tokens."""
        queue = self.reply_queue
        if queue is None:
            return list(outbox)
        routed = []
        for message in outbox:
            if message.reply_to == TASK_RESULTS_QUEUE:
                message = dataclasses.replace(message, reply_to=queue)
            if (
                message.exchange == ""
                and message.routing_key == TASK_RESULTS_QUEUE
                and message.correlation_id in state.tokens
            ):
                message = dataclasses.replace(message, routing_key=queue)
            routed.append(message)
        return routed

    def _make_room(self) -> None:
        """Forget finished executions past their time, and the oldest one if still full."""
        self.forget_expired()
        if len(self._held) < self.capacity:
            return
        if not self._finished:
            raise ExecutionLimit(
                f"{len(self._held)} EXPRESS executions are running, the most this orchestrator"
                " holds at once; start it again when some have ended"
            )
        self._forget(next(iter(self._finished)))

    def forget_expired(self) -> None:
        """Forget the finished executions that ended more than ``keep_seconds`` ago."""
        limit = self.clock() - self.keep_seconds
        while self._finished:
            arn, ended = next(iter(self._finished.items()))
            if ended > limit:
                break
            self._forget(arn)

    def _forget(self, arn: str) -> None:
        self._finished.pop(arn, None)
        held = self._held.pop(arn, None)
        if held is None:
            return
        state = held.record.state
        key = (state.state_machine_name, state.execution_name)
        if self._names.get(key) == arn:
            del self._names[key]
        for token in state.tokens:  # none left once it ended; kept for safety
            self._tokens.pop(token, None)
        for timer in state.timers:
            self._timers.pop(timer, None)

    # -- timers --------------------------------------------------------------------------------

    def due_timers(self, now: float, limit: int = 500) -> list[tuple[str, str]]:
        """(timer id, execution ARN) of timers due at ``now`` (epoch seconds), soonest first."""
        found: list[tuple[str, str]] = []
        taken: list[tuple[float, str]] = []
        while self._due and len(found) < limit:
            due, timer = self._due[0]
            current = self._timers.get(timer)
            if current is None or current[0] != due:  # deleted or moved: a stale entry
                heapq.heappop(self._due)
                continue
            if due > now:
                break
            taken.append(heapq.heappop(self._due))
            found.append((timer, current[1]))
        for entry in taken:  # a timer stays until its execution's step removes it
            heapq.heappush(self._due, entry)
        return found

    def next_timer_due(self) -> float | None:
        """When the soonest timer is due (epoch seconds), if there is one."""
        while self._due:
            due, timer = self._due[0]
            current = self._timers.get(timer)
            if current is not None and current[0] == due:
                return due
            heapq.heappop(self._due)
        return None

    def has_timer(self, timer: str) -> bool:
        """Whether ``timer`` is one of the timers held here."""
        return timer in self._timers

    def delete_timer(self, timer: str) -> None:
        """Forget a timer that no longer applies."""
        self._timers.pop(timer, None)

    def postpone_timer(self, timer: str, due: float) -> None:
        """Move a timer that could not be fired to ``due`` (epoch seconds)."""
        current = self._timers.get(timer)
        if current is not None:
            self._timers[timer] = (due, current[1])
            heapq.heappush(self._due, (due, timer))

    # -- outbox --------------------------------------------------------------------------------

    def _add_outbox(self, outbox: Iterable[OutboxMessage], created: float) -> list[int]:
        ids = []
        for message in outbox:
            key = next(self._ids)
            self._outbox[key] = (dataclasses.replace(message, id=key), created)
            ids.append(key)
        return ids

    def enqueue(self, outbox: Sequence[OutboxMessage], *, created: float) -> list[int]:
        """Add messages to the outbox on their own; their (negative) ids."""
        return self._add_outbox(outbox, created)

    def outbox_messages(self, ids: Iterable[int]) -> list[OutboxMessage]:
        """The still-unpublished messages among ``ids``, in the order they were added."""
        found = [self._outbox.get(key) for key in sorted(ids, reverse=True)]
        return [entry[0] for entry in found if entry is not None]

    def pending_outbox(self, older_than: float | None = None) -> list[OutboxMessage]:
        """Unpublished messages in the order they were added (added before ``older_than``)."""
        return [
            message
            for message, created in self._outbox.values()
            if older_than is None or created < older_than
        ]

    def delete_outbox(self, ids: Iterable[int]) -> None:
        """Forget messages the broker has confirmed."""
        for key in ids:
            self._outbox.pop(key, None)


def _epoch(moment: datetime) -> float:
    """A due date as epoch seconds (``datetime.max``, a date never reached, included)."""
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return float("inf")
