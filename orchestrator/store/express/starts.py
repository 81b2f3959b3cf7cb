"""Durable records of asynchronous EXPRESS starts (mixed into :class:`SqliteStore`).

An EXPRESS execution's steps live in memory only (:mod:`orchestrator.store.express.memory`). AWS
runs an asynchronous EXPRESS execution at least once, so its start is written here once (what
it needs to run again: its ARN, name, input, askers and definition) and deleted when it
ends: two writes per execution, none per step. The orchestrator that holds it keeps its
claim fresh; a record whose claim is stale (its holder died) is claimed by another one, or by
the next run of the same one, which runs the execution again from its start.

The table is made by each store's migrations (SQLite's version 14, PostgreSQL's first).
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable


@runtime_checkable
class ExpressStarts(Protocol):
    """What a durable store keeps of asynchronous EXPRESS starts (SQLite's is below)."""

    @property
    def express_claims_exclusive(self) -> bool: ...
    def add_express_start(self, arn: str, record: str, holder: str, now: float) -> None: ...
    def forget_express_start(self, arn: str) -> None: ...
    def refresh_express_claims(self, holder: str, now: float) -> None: ...
    def claim_express_starts(
        self, holder: str, stale_before: float, now: float, limit: int = 100
    ) -> list[tuple[str, str]]: ...


class ExpressStartsMixin:
    """The records of asynchronous EXPRESS starts; needs the store's ``_db`` and
    ``_transaction`` (each write joins the batch open at the time, if any)."""

    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[None]:  # provided by the store
        raise NotImplementedError

    @property
    def express_claims_exclusive(self) -> bool:
        """Whether one orchestrator at a time uses the store (a SQLite file), so that at
        startup every record is its own to run again, however fresh its claim."""
        return isinstance(self._db, sqlite3.Connection)

    def add_express_start(self, arn: str, record: str, holder: str, now: float) -> None:
        """Record the start of execution ``arn`` (``record``: JSON), claimed by ``holder``."""
        with self._transaction():
            self._db.execute("DELETE FROM express_starts WHERE arn=?", (arn,))
            self._db.execute(
                "INSERT INTO express_starts (arn, record, holder, claimed) VALUES (?,?,?,?)",
                (arn, record, holder, now),
            )

    def forget_express_start(self, arn: str) -> None:
        """The execution ``arn`` ended: it is not to run again."""
        with self._transaction():
            self._db.execute("DELETE FROM express_starts WHERE arn=?", (arn,))

    def refresh_express_claims(self, holder: str, now: float) -> None:
        """``holder`` is alive: its claims are fresh as of ``now``."""
        with self._transaction():
            self._db.execute("UPDATE express_starts SET claimed=? WHERE holder=?", (now, holder))

    def claim_express_starts(
        self, holder: str, stale_before: float, now: float, limit: int = 100
    ) -> list[tuple[str, str]]:
        """Take up to ``limit`` records of other holders whose claim is older than
        ``stale_before`` (their holder stopped refreshing it): (ARN, record) of each, now
        claimed by ``holder``. Another claimer's concurrent take of a row is lost by the
        later one (its UPDATE finds the claim renewed), so each row goes to one claimer."""
        taken: list[tuple[str, str]] = []
        with self._transaction():
            rows = self._db.execute(
                "SELECT arn, record, claimed FROM express_starts WHERE claimed < ?"
                " AND holder <> ? ORDER BY claimed LIMIT ?",
                (stale_before, holder, limit),
            ).fetchall()
            for arn, record, claimed in rows:
                cursor = self._db.execute(
                    "UPDATE express_starts SET holder=?, claimed=? WHERE arn=? AND claimed=?",
                    (holder, now, arn, claimed),
                )
                if cursor.rowcount == 1:
                    taken.append((str(arn), str(record)))
        return taken
