"""State machine versions and aliases in the SQLite store (mixed into :class:`SqliteStore`).

A version fixes a definition (by its hash in ``definitions``), type and role under a number,
1, 2, 3 ... per state machine, never reused: ``version_counters`` keeps the last number even
after versions are deleted. An alias names one or two versions with weights.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from orchestrator.store.records import AliasRecord, VersionRecord


class VersionsMixin:
    """Versions and aliases; needs the store's ``_db`` and ``_transaction``."""

    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[None]:  # provided by the store
        raise NotImplementedError

    def definition(self, digest: str) -> tuple[str, str] | None:  # provided by the store
        raise NotImplementedError

    def publish_version(
        self,
        name: str,
        digest: str,
        machine_type: str,
        role_arn: str | None,
        description: str | None,
    ) -> VersionRecord:
        """A new version of ``name`` fixing ``digest``: the next number."""
        now = time.time()
        with self._transaction():
            row = self._db.execute(
                "SELECT last FROM version_counters WHERE name=?", (name,)
            ).fetchone()
            number = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT OR REPLACE INTO version_counters (name, last) VALUES (?,?)",
                (name, number),
            )
            self._db.execute(
                "INSERT INTO versions (name, version, definition_hash, type, role_arn,"
                " description, created) VALUES (?,?,?,?,?,?,?)",
                (name, number, digest, machine_type, role_arn, description, now),
            )
        found = self.version(name, number)
        assert found is not None
        return found

    def version(self, name: str, number: int) -> VersionRecord | None:
        """Version ``number`` of ``name``, or None."""
        row = self._db.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE name=? AND version=?",
            (name, number),
        ).fetchone()
        return self._version(row) if row else None

    def versions(self, name: str) -> list[VersionRecord]:
        """The versions of ``name``, newest first."""
        rows = self._db.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE name=? ORDER BY version DESC",
            (name,),
        ).fetchall()
        return [self._version(row) for row in rows]

    def delete_version(self, name: str, number: int) -> None:
        """Forget version ``number`` of ``name`` (its number is not used again)."""
        with self._transaction():
            self._db.execute("DELETE FROM versions WHERE name=? AND version=?", (name, number))

    def put_alias(
        self,
        name: str,
        alias: str,
        routing: list[tuple[int, int]],
        description: str | None,
        *,
        update: bool = False,
    ) -> AliasRecord:
        """Create (or, with ``update``, change) alias ``alias`` of ``name``."""
        now = time.time()
        text = json.dumps(routing)
        with self._transaction():
            if update:
                self._db.execute(
                    "UPDATE aliases SET routing=?, description=?, updated=?"
                    " WHERE name=? AND alias=?",
                    (text, description, now, name, alias),
                )
            else:
                self._db.execute(
                    "INSERT INTO aliases (name, alias, description, routing, created)"
                    " VALUES (?,?,?,?,?)",
                    (name, alias, description, text, now),
                )
        found = self.alias(name, alias)
        assert found is not None
        return found

    def alias(self, name: str, alias: str) -> AliasRecord | None:
        """Alias ``alias`` of ``name``, or None."""
        row = self._db.execute(
            f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE name=? AND alias=?", (name, alias)
        ).fetchone()
        return _alias(row) if row else None

    def aliases(self, name: str) -> list[AliasRecord]:
        """The aliases of ``name``, oldest first."""
        rows = self._db.execute(
            f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE name=? ORDER BY created, alias", (name,)
        ).fetchall()
        return [_alias(row) for row in rows]

    def delete_alias(self, name: str, alias: str) -> None:
        """Forget alias ``alias`` of ``name``."""
        with self._transaction():
            self._db.execute("DELETE FROM aliases WHERE name=? AND alias=?", (name, alias))

    def forget_versions(self, name: str) -> None:
        """Forget every version and alias of ``name`` (the state machine is deleted)."""
        with self._transaction():
            self._db.execute("DELETE FROM versions WHERE name=?", (name,))
            self._db.execute("DELETE FROM aliases WHERE name=?", (name,))
            self._db.execute("DELETE FROM version_counters WHERE name=?", (name,))

    def set_execution_qualifier(
        self, execution_arn: str, version: int | None, alias: str | None
    ) -> None:
        """Record the version and alias an execution was started through."""
        with self._transaction():
            self._db.execute(
                "UPDATE executions SET version=?, alias=? WHERE arn=?",
                (version, alias, execution_arn),
            )

    def execution_qualifier(self, execution_arn: str) -> tuple[int | None, str | None]:
        """(version, alias) an execution was started through; (None, None) for neither."""
        row = self._db.execute(
            "SELECT version, alias FROM executions WHERE arn=?", (execution_arn,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def qualified_executions(self, name: str, version: int | None, alias: str | None) -> set[str]:
        """The ARNs of ``name``'s executions started through ``alias`` (when given), else
        through ``version``."""
        if alias is not None:
            query, value = "alias=?", alias
        else:
            query, value = "version=?", str(version)
        rows = self._db.execute(
            f"SELECT arn FROM executions WHERE state_machine=? AND {query}", (name, value)
        )
        return {arn for (arn,) in rows}

    def execution_qualifiers(
        self, execution_arns: Sequence[str]
    ) -> dict[str, tuple[int | None, str | None]]:
        """(version, alias) of each of these executions started through one (a page of a
        list: at most 1,000)."""
        if not execution_arns:
            return {}
        marks = ",".join("?" * len(execution_arns))
        rows = self._db.execute(
            f"SELECT arn, version, alias FROM executions WHERE arn IN ({marks})"
            " AND (version IS NOT NULL OR alias IS NOT NULL)",
            list(execution_arns),
        )
        return {arn: (version, alias) for arn, version, alias in rows}

    def _version(self, row: Any) -> VersionRecord:
        name, number, digest, machine_type, role_arn, description, created = row
        stored = self.definition(digest)
        return VersionRecord(
            name,
            number,
            stored[1] if stored else "",
            digest,
            machine_type,
            role_arn,
            description,
            created,
        )


_VERSION_COLUMNS = "name, version, definition_hash, type, role_arn, description, created"
_ALIAS_COLUMNS = "name, alias, description, routing, created, updated"


def _alias(row: Any) -> AliasRecord:
    name, alias, description, routing, created, updated = row
    pairs: Iterator[list[int]] = iter(json.loads(routing))
    return AliasRecord(
        name, alias, description, tuple((int(v), int(w)) for v, w in pairs), created, updated
    )
