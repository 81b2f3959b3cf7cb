"""Distributed Map runs in the SQLite store (mixed into :class:`SqliteStore`).

A Map Run is a row from its ``MapRunStarted`` until it ends; its children are executions
whose ``map_run`` column names it, so its counts are one grouped query. The rows are kept by
the same transaction that commits the parent's step (:meth:`MapRunsMixin._keep_map_runs`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from orchestrator.asl.execution import ExecutionState, HistoryEvent
from orchestrator.store.records import MapRunRecord

_ENDS = {"MapRunSucceeded": "SUCCEEDED", "MapRunFailed": "FAILED", "MapRunAborted": "ABORTED"}
_COLUMNS = (
    "arn, execution_arn, status, start_date, stop_date, error, cause, max_concurrency,"
    " tolerated_count, tolerated_percentage, redrive_count, redrive_date"
)


class MapRunsMixin:
    """Map Runs; needs the store's ``_db``."""

    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[None]:  # provided by the store
        raise NotImplementedError

    def _keep_map_runs(self, state: ExecutionState, history: Sequence[HistoryEvent]) -> None:
        """Inside the commit of ``state``'s step: rows for the Map Runs its events start,
        and the end of those that ended (by their event, or with the execution)."""
        runs = [e for e in history if e.type.startswith("MapRun")]
        if not runs and state.status == "RUNNING":
            return
        arn = state.execution_arn
        for event in runs:
            if event.type == "MapRunStarted" and event.details:
                self._db.execute(
                    "INSERT OR IGNORE INTO map_runs (arn, execution_arn, status, start_date,"
                    " max_concurrency, tolerated_count, tolerated_percentage)"
                    " VALUES (?,?,'RUNNING',?,0,0,0)",
                    (str(event.details["mapRunArn"]), arn, event.timestamp.isoformat()),
                )
            elif event.type == "MapRunRedriven" and event.details:
                self._db.execute(
                    "UPDATE map_runs SET status='RUNNING', stop_date=NULL, error=NULL,"
                    " cause=NULL, redrive_count=redrive_count+1, redrive_date=? WHERE arn=?",
                    (event.timestamp.isoformat(), str(event.details["mapRunArn"])),
                )
        running = [
            row[0]
            for row in self._db.execute(
                "SELECT arn FROM map_runs WHERE execution_arn=? AND status='RUNNING'", (arn,)
            )
        ]
        if not running:
            return
        live = {t.map_run: t for t in state.threads.values() if t.map_run is not None}
        ends = [e for e in runs if e.type in _ENDS]
        for run_arn in running:
            thread = live.get(run_arn)
            if thread is not None:  # its limits, as the Map state worked them out
                self._db.execute(
                    "UPDATE map_runs SET max_concurrency=?, tolerated_count=? WHERE arn=?",
                    (thread.max_concurrency, int(thread.tolerated_failures or 0), run_arn),
                )
                continue
            end = ends.pop(0) if ends else None
            status = _ENDS[end.type] if end is not None else "ABORTED"
            details = (end.details if end is not None else None) or {}
            self._db.execute(
                "UPDATE map_runs SET status=?, stop_date=?, error=?, cause=? WHERE arn=?",
                (
                    status,
                    (
                        end.timestamp if end is not None else state.stop_time or datetime.now()
                    ).isoformat(),
                    details.get("error"),
                    details.get("cause"),
                    run_arn,
                ),
            )

    def map_run(self, arn: str) -> MapRunRecord | None:
        """The Map Run ``arn``, or None."""
        row = self._db.execute(f"SELECT {_COLUMNS} FROM map_runs WHERE arn=?", (arn,)).fetchone()
        return MapRunRecord(*row) if row else None

    def map_runs(self, execution_arn: str) -> list[MapRunRecord]:
        """The Map Runs execution ``execution_arn`` started, newest first."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM map_runs WHERE execution_arn=? ORDER BY start_date DESC, arn",
            (execution_arn,),
        ).fetchall()
        return [MapRunRecord(*row) for row in rows]

    def _state(self, key: int, state: str, layout: int) -> ExecutionState:  # the store's
        raise NotImplementedError

    def map_run_children(
        self, arn: str, after: int = 0, limit: int = 500
    ) -> tuple[list[ExecutionState], int]:
        """A page of the Map Run's child executions in the order they were stored, from row
        ``after`` on; and the row to read the next page after (the page is empty at the end)."""
        rows = self._db.execute(
            "SELECT id, state, layout FROM executions WHERE map_run=? AND id>? ORDER BY id LIMIT ?",
            (arn, after, limit),
        ).fetchall()
        last = rows[-1][0] if rows else after
        return [self._state(key, state, layout) for key, state, layout in rows], last

    def map_run_counts(self, arn: str) -> dict[str, int]:
        """How many of the Map Run's child executions are in each status."""
        rows = self._db.execute(
            "SELECT status, count(*) FROM executions WHERE map_run=? GROUP BY status", (arn,)
        )
        return {status: count for status, count in rows}

    def set_map_run_limits(
        self,
        arn: str,
        max_concurrency: int | None,
        tolerated_count: int | None,
        tolerated_percentage: float | None,
    ) -> None:
        """Record an UpdateMapRun's new limits."""
        with self._transaction():
            for column, value in (
                ("max_concurrency", max_concurrency),
                ("tolerated_count", tolerated_count),
                ("tolerated_percentage", tolerated_percentage),
            ):
                if value is not None:
                    self._db.execute(f"UPDATE map_runs SET {column}=? WHERE arn=?", (value, arn))
