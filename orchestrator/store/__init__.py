"""The execution store: where executions, their histories and the outbox are kept.

``sqlite`` is the embedded store (one file); the ``postgres`` package the one several
orchestrators share; the ``express`` package holds EXPRESS executions in memory beside
either; ``open`` picks a store by location; ``records`` what it hands out and the interface
the engine needs; ``schema`` its versions; ``cache`` and ``rows`` how a running execution's
state is kept cheap to read and to write; ``wal_checkpointer`` keeps its log short.
"""

from orchestrator.store.records import (
    ActivityRecord,
    ExecutionBusy,
    ExecutionExists,
    ExecutionRecord,
    ExecutionSummary,
    OutboxMessage,
    StateMachineRecord,
    Store,
    StoreError,
    is_store_fault,
)
from orchestrator.store.schema import SCHEMA_VERSION
from orchestrator.store.sqlite import CACHED_EXECUTIONS, MAX_WAITERS, SqliteStore

__all__ = [
    "CACHED_EXECUTIONS",
    "MAX_WAITERS",
    "SCHEMA_VERSION",
    "ActivityRecord",
    "ExecutionBusy",
    "ExecutionExists",
    "ExecutionRecord",
    "ExecutionSummary",
    "OutboxMessage",
    "SqliteStore",
    "StateMachineRecord",
    "Store",
    "StoreError",
    "is_store_fault",
]
