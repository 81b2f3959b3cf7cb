"""The embedded store's SQL, spoken to PostgreSQL: one set of statements for both stores.

:class:`PgConnection` gives a psycopg connection the small part of ``sqlite3.Connection``
the store uses (``execute``, ``executemany``, cursors with ``fetchone``, ``fetchall``,
``rowcount`` and ``lastrowid``), and rewrites each statement once (then cached) from
SQLite's dialect: ``?`` parameters, ``INSERT OR IGNORE``/``OR REPLACE``, ``IFNULL``,
``json_extract``, and ``lastrowid`` (``RETURNING id``). The store's SQL keeps to these few
forms; a new form must be taught here, and the store's tests run on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import pq

# The key of each table written with INSERT OR REPLACE: PostgreSQL's upsert names it.
REPLACE_KEYS: dict[str, tuple[str, ...]] = {
    "tasks": ("token",),
    "timers": ("id",),
    "parts": ("execution", "part"),
    "tags": ("resource_arn", "key"),
    "version_counters": ("name",),
}
# Tables with a generated integer key that callers read back as ``lastrowid``.
GENERATED_KEYS = frozenset({"executions", "outbox"})

_REPLACE = re.compile(
    r"^\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)(.*)$", re.DOTALL | re.IGNORECASE
)
_IGNORE = re.compile(r"^\s*INSERT OR IGNORE INTO ", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT INTO (\w+)", re.IGNORECASE)
# The one row of parameters of an INSERT (repeated for many rows in one statement).
_VALUES = re.compile(r"^\s*INSERT INTO .*? VALUES (\((?:%s,?\s*)+\))", re.DOTALL | re.IGNORECASE)
# How long a connection may sit idle inside a transaction before the server ends it.
IDLE_IN_TRANSACTION_MS = 60_000
# Rows in one multi-row INSERT (PostgreSQL takes at most 65,535 parameters a statement).
MAX_ROWS_PER_INSERT = 1000
_JSON_EXTRACT = re.compile(r"json_extract\((\w+), '\$\.(\w+)'\)")


@lru_cache(maxsize=1024)
def translate(sql: str) -> tuple[str, bool]:
    """``sql`` in PostgreSQL's dialect, and whether it returns a generated key to read."""
    text = sql.replace("%", "%%").replace("?", "%s")
    text = re.sub(r"\bIFNULL\(", "COALESCE(", text)
    text = _JSON_EXTRACT.sub(r"((\1::jsonb)->>'\2')::numeric", text)
    replace = _REPLACE.match(text)
    if replace:
        table, columns, rest = replace.groups()
        key = REPLACE_KEYS[table]
        names = [c.strip() for c in columns.split(",")]
        updates = ", ".join(f"{c}=EXCLUDED.{c}" for c in names if c not in key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        text = (
            f"INSERT INTO {table} ({columns}){rest.rstrip()} ON CONFLICT ({', '.join(key)})"
            f" {action}"
        )
    elif _IGNORE.match(text):
        text = _IGNORE.sub("INSERT INTO ", text).rstrip() + " ON CONFLICT DO NOTHING"
    inserted = _INSERT.match(text)
    generated = (
        inserted is not None
        and inserted.group(1) in GENERATED_KEYS
        and "RETURNING" not in text.upper()
    )
    if generated:
        text += " RETURNING id"
    return text, generated


def _storable(params: Sequence[Any]) -> Sequence[Any]:
    """``params`` as PostgreSQL can store them: its text cannot hold a NUL character (SQLite's
    can), so one in a text value (a tag, a description, a worker's error cause) is stored as
    the six characters ``\\u0000``, not refused (a refused step would be retried forever)."""
    if not any(isinstance(p, str) and "\x00" in p for p in params):
        return params
    return [p.replace("\x00", "\\u0000") if isinstance(p, str) else p for p in params]


class PgCursor:
    """A statement's outcome, read as the store reads an ``sqlite3.Cursor``. In a pipeline
    it arrives later: reading it waits for it (and sends what is queued before it)."""

    def __init__(
        self,
        cursor: psycopg.Cursor[Any],
        lastrowid: int | None = None,
        pipeline: psycopg.Pipeline | None = None,
    ) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self._pipeline = pipeline

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        """The next row, or None."""
        self._arrived()
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        self._arrived()
        return self._cursor.fetchall() if self._cursor.description else []

    def _arrived(self) -> None:
        # In a pipeline the result comes with the next synchronization: make one (what is
        # queued before it is sent along and its errors raised here).
        if self._pipeline is not None and self._cursor.pgresult is None:
            self._pipeline.sync()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A PostgreSQL connection (psycopg 3, autocommit: the store opens its own transactions
    with BEGIN and savepoints, as it does on SQLite)."""

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._conn = self._connect()
        self._pipeline: psycopg.Pipeline | None = None

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=max(1, int(self._connect_timeout)),
            # A replica that hangs inside a transaction (stopped, not dead) would hold its
            # rows' locks, and the others retry those executions: the server ends it.
            options=f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}",
        )

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (or left open by a failure)."""
        return self._conn.info.transaction_status != pq.TransactionStatus.IDLE

    def reconnect_if_broken(self) -> None:
        """Open a new connection when the old one was lost (a server restart)."""
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        """Run one statement (SQLite's dialect) and return its cursor."""
        text, generated = translate(sql)
        cursor = self._conn.execute(text, _storable(params) if params else None)
        result = PgCursor(cursor, pipeline=self._pipeline)
        if generated:
            row = result.fetchone()
            result.lastrowid = int(row[0]) if row else None
        return result

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters: an INSERT as one statement of
        many rows, anything else statement by statement (pipelined)."""
        rows = list(rows)
        if not rows:
            return
        if len(rows) == 1:
            self.execute(sql, rows[0])
            return
        text, _ = translate(sql)
        values = _VALUES.search(text)
        if values is not None and len(rows) <= MAX_ROWS_PER_INSERT:
            group = values.group(1)
            many = text[: values.start(1)] + ",".join([group] * len(rows)) + text[values.end(1) :]
            self._conn.execute(many, _storable([v for row in rows for v in row]))
            return
        with self._conn.cursor() as cursor:
            cursor.executemany(text, [_storable(row) for row in rows])

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Queue statements without waiting for each: a result is waited for when it is read
        (or at the end), so a step's writes share one round trip to the server."""
        with self._conn.pipeline() as pipeline:
            self._pipeline = pipeline
            try:
                yield
            finally:
                self._pipeline = None

    @property
    def piped(self) -> bool:
        """Whether statements are going as a pipeline now."""
        return self._pipeline is not None

    def sync(self) -> None:
        """Wait for everything queued in the pipeline (raising the first error), if any."""
        if self._pipeline is not None:
            self._pipeline.sync()

    def recover(self) -> None:
        """After an error in a pipeline: let the server take commands again (it skips
        them until a synchronization point) so that a rollback can follow."""
        if self._pipeline is not None:
            with suppress(psycopg.Error):
                self._pipeline.sync()

    def script(self, sql: str) -> None:
        """Run several statements with no parameters (a migration)."""
        self._conn.execute(sql.encode())

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
