"""What the store holds and hands out: records, the store's interface, its errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from orchestrator.asl.interpreter import ExecutionState, HistoryEvent
from orchestrator.store.pending_commit import PendingCommit


@dataclass(frozen=True)
class OutboxMessage:
    """A message a committed step decided to publish; deleted once the broker confirmed it."""

    exchange: str
    routing_key: str
    body: bytes
    correlation_id: str | None = None
    reply_to: str | None = None
    id: int = 0


@dataclass(frozen=True)
class StateMachineRecord:
    """A state machine as stored: its current definition, type, role and dates."""

    name: str
    definition: str
    definition_hash: str
    type: str
    role_arn: str | None
    created: float
    updated: float


@dataclass(frozen=True)
class VersionRecord:
    """A published version of a state machine: a definition fixed under a number."""

    name: str
    version: int
    definition: str
    definition_hash: str
    type: str
    role_arn: str | None
    description: str | None
    created: float


@dataclass(frozen=True)
class MapRunRecord:
    """A Map Run as stored: who started it, when, and how it ended."""

    arn: str
    execution_arn: str
    status: str
    start_date: str
    stop_date: str | None
    error: str | None
    cause: str | None
    max_concurrency: int
    tolerated_count: int
    tolerated_percentage: float
    redrive_count: int = 0
    redrive_date: str | None = None


@dataclass(frozen=True)
class AliasRecord:
    """An alias: one or two versions of a state machine, each with a weight (percent)."""

    name: str
    alias: str
    description: str | None
    routing: tuple[tuple[int, int], ...]  # (version, weight)
    created: float
    updated: float | None


@dataclass(frozen=True)
class ActivityRecord:
    """An activity as stored: its name and when it was created (epoch seconds)."""

    name: str
    created: float


@dataclass(frozen=True)
class ExecutionSummary:
    """An execution as a list shows it: read from the row's columns, not its state."""

    execution_arn: str
    state_machine_arn: str
    name: str
    status: str
    start_time: datetime
    stop_time: datetime | None


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution as stored: its interpreter state and where its result is to be sent."""

    state: ExecutionState
    reply_to: str | None = None
    correlation_id: str | None = None
    definition_hash: str | None = None  # the definition it started with
    split: bool = False  # stored in rows (state_rows), not in one column
    # Bumped by each commit; a commit of a record read at an older revision is refused
    # (ExecutionBusy): another process stepped the execution in between (shared store).
    revision: int = 0
    key: int = 0  # its row's id in the store (0: not known yet)


class Store(Protocol):
    """What the engine needs from a store; SQLite is the embedded implementation."""

    def execution(self, state_machine: str, name: str) -> ExecutionRecord | None: ...
    def execution_by_token(self, token: str) -> ExecutionRecord | None: ...
    def execution_by_arn(self, arn: str) -> ExecutionRecord | None: ...
    def state_machine_digests(self) -> dict[str, tuple[str, str, str | None]]: ...
    def due_timers(self, now: float, limit: int = 500) -> list[tuple[str, str]]: ...
    def next_timer_due(self) -> float | None: ...
    def delete_timer(self, timer: str) -> None: ...
    def postpone_timer(self, timer: str, due: float) -> None: ...
    def batch(self) -> AbstractContextManager[None]: ...
    def deferred_batch(self) -> AbstractContextManager[PendingCommit]: ...
    def save_definition(self, name: str, text: str) -> str: ...
    def definition(self, digest: str) -> tuple[str, str] | None: ...
    def state_machine(self, name: str) -> StateMachineRecord | None: ...
    def state_machines(self) -> list[StateMachineRecord]: ...
    def put_state_machine(
        self, name: str, text: str, machine_type: str, role_arn: str | None
    ) -> StateMachineRecord: ...
    def delete_state_machine(self, name: str) -> None: ...
    def create_activity(self, name: str) -> tuple[ActivityRecord, bool]: ...
    def activity(self, name: str) -> ActivityRecord | None: ...
    def activities(self) -> list[ActivityRecord]: ...
    def delete_activity(self, name: str) -> bool: ...
    def activity_exists(self, name: str) -> bool: ...
    def tags(self, resource_arn: str) -> dict[str, str]: ...
    def set_tags(
        self, resource_arn: str, tags: dict[str, str], remove: Iterable[str] = ()
    ) -> None: ...
    def commit(
        self,
        record: ExecutionRecord,
        history: Sequence[HistoryEvent],
        outbox: Sequence[OutboxMessage],
        *,
        new: bool,
        created: float,
        previous: ExecutionState | None = None,
    ) -> list[int]: ...
    def enqueue(self, outbox: Sequence[OutboxMessage], *, created: float) -> list[int]: ...
    def pending_outbox(self, older_than: float | None = None) -> list[OutboxMessage]: ...
    def claim_outbox(self, older_than: float) -> list[OutboxMessage]: ...
    def outbox_messages(self, ids: Iterable[int]) -> list[OutboxMessage]: ...
    def delete_outbox(self, ids: Iterable[int]) -> None: ...
    def history(
        self,
        execution_arn: str,
        first: int = 1,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]: ...
    def executions(
        self,
        status: str | None = None,
        *,
        state_machine: str | None = None,
        name: str | None = None,
        limit: int | None = None,
    ) -> list[ExecutionState]: ...
    def map_run(self, arn: str) -> MapRunRecord | None: ...
    def map_runs(self, execution_arn: str) -> list[MapRunRecord]: ...
    def map_run_counts(self, arn: str) -> dict[str, int]: ...
    def map_run_children(
        self, arn: str, after: int = 0, limit: int = 500
    ) -> tuple[list[ExecutionState], int]: ...
    def set_map_run_limits(
        self,
        arn: str,
        max_concurrency: int | None,
        tolerated_count: int | None,
        tolerated_percentage: float | None,
    ) -> None: ...
    def execution_summaries(
        self,
        status: str | None = None,
        *,
        state_machine: str | None = None,
        map_run: str | None = None,
        redriven: bool | None = None,
    ) -> list[ExecutionSummary]: ...
    def execution_page(
        self,
        *,
        state_machine: str | None = None,
        status: str | None = None,
        map_run: str | None = None,
        redriven: bool | None = None,
        name_prefix: str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        cursor: tuple[str, int] | None = None,
        limit: int = 50,
    ) -> tuple[list[ExecutionSummary], tuple[str, int] | None]: ...
    def last_event_id(self, execution_arn: str) -> int: ...
    def publish_version(
        self,
        name: str,
        digest: str,
        machine_type: str,
        role_arn: str | None,
        description: str | None,
    ) -> VersionRecord: ...
    def version(self, name: str, number: int) -> VersionRecord | None: ...
    def versions(self, name: str) -> list[VersionRecord]: ...
    def delete_version(self, name: str, number: int) -> None: ...
    def put_alias(
        self,
        name: str,
        alias: str,
        routing: list[tuple[int, int]],
        description: str | None,
        *,
        update: bool = False,
    ) -> AliasRecord: ...
    def alias(self, name: str, alias: str) -> AliasRecord | None: ...
    def aliases(self, name: str) -> list[AliasRecord]: ...
    def delete_alias(self, name: str, alias: str) -> None: ...
    def forget_versions(self, name: str) -> None: ...
    def set_execution_qualifier(
        self, execution_arn: str, version: int | None, alias: str | None
    ) -> None: ...
    def execution_qualifier(self, execution_arn: str) -> tuple[int | None, str | None]: ...
    def execution_qualifiers(
        self, execution_arns: Sequence[str]
    ) -> dict[str, tuple[int | None, str | None]]: ...
    def qualified_executions(
        self, name: str, version: int | None, alias: str | None
    ) -> set[str]: ...
    def add_waiter(self, execution_arn: str, reply_to: str, correlation_id: str | None) -> bool: ...
    def set_unserved(self, function: str, since: float | None) -> None: ...
    def forget_unserved(self) -> None: ...
    def unserved(self) -> dict[str, float]: ...
    def waiters(self, execution_arn: str) -> list[tuple[str, str | None]]: ...
    def close(self) -> None: ...


class ExecutionExists(Exception):
    """An execution of that name already exists for that state machine."""


class ExecutionBusy(Exception):
    """Another orchestrator sharing the store is stepping this execution right now, or
    stepped it since it was read: apply the event again shortly (nothing was changed)."""


class StoreError(Exception):
    """The store file cannot be used (not a database, damaged, empty, too new); the message
    names the file and says what to do."""


def is_store_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is the store failing (a full disk, an I/O error, a locked or broken
    file), not the data it was given: worth retrying later, never a reason to drop work."""
    if isinstance(exc, sqlite3.IntegrityError):
        return False
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError | OSError):
        return True
    return _is_server_fault(exc)


def _is_server_fault(exc: BaseException) -> bool:
    """A database server's fault: a lost connection, a server shutting down, a deadlock or
    serialization failure (the batch is tried again), not a bad value or a broken rule."""
    try:
        import psycopg
        from psycopg import errors as pg_errors
    except ImportError:  # no server store in use
        return False
    if isinstance(exc, psycopg.IntegrityError | psycopg.DataError | psycopg.ProgrammingError):
        return False
    return isinstance(
        exc,
        psycopg.OperationalError
        | psycopg.InterfaceError
        | pg_errors.DeadlockDetected
        | pg_errors.SerializationFailure,
    )
