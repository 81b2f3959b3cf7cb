"""The execution store on PostgreSQL, shared by several orchestrator replicas.

It is the SQLite store's code and statements (:mod:`orchestrator.store.postgres.dialect` translates
them), with what sharing needs:

- **One replica steps an execution at a time.** Inside a batch, loading an execution locks
  its row (``FOR UPDATE SKIP LOCKED``) until the batch commits; a row another replica holds
  raises :class:`ExecutionBusy` at once (never a wait, so never a deadlock), and the service
  applies that message again shortly. Every commit also checks and bumps the row's
  ``revision``, so a step computed from an older read (an API call, a timer, outside a
  batch) is refused rather than overwriting another replica's step.
- **The cache stays true.** A running execution's parsed state is reused only when the
  row's revision is the one it was read at.
- **The outbox is re-published once.** A sweep claims the rows it takes (``claimed``), so
  two replicas' sweeps never both send a row, and it leaves rows younger than
  :data:`SWEEP_AGE_SECONDS` to the replica that committed them (it publishes its own within
  milliseconds). A claim older than :data:`CLAIM_SECONDS` is a dead sweeper's: taken again.
- **Starts stay idempotent by name**: the ``UNIQUE (state_machine, name)`` rule decides,
  whichever replica inserts first.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

import psycopg

from orchestrator.store.pending_commit import CommittedBatch, PendingCommit
from orchestrator.store.postgres.changes import CHANGES_CHANNEL, notification_payloads
from orchestrator.store.postgres.dialect import PgConnection
from orchestrator.store.postgres.schema import MIGRATION_LOCK, PG_MIGRATIONS, PG_SCHEMA_VERSION
from orchestrator.store.records import (
    ExecutionBusy,
    ExecutionRecord,
    OutboxMessage,
    StoreError,
)
from orchestrator.store.sqlite import SqliteStore, _outbox

# Outbox rows younger than this belong to the replica that committed them (being sent).
SWEEP_AGE_SECONDS = 2.0
# A sweep's claim on a row lasts this long; then another replica may send the row.
CLAIM_SECONDS = 30.0
# Rows one sweep takes.
SWEEP_LIMIT = 1000
# Outbox ids taken from the sequence at a time (a replica's unused ones are skipped).
OUTBOX_IDS = 256


def is_server_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return str(location).startswith(("postgresql://", "postgres://"))


class PostgresStore(SqliteStore):
    """The store on a PostgreSQL server (``SFN_DB=postgresql://...``)."""

    _integrity_errors = (psycopg.IntegrityError,)

    @property
    def _pipelined(self) -> bool:  # type: ignore[override]
        # Inside a batch: statements go as a pipeline, and the rows stepped are locked, so a
        # step's revision check can wait for the step's end. Outside one: checked at once.
        return self._pg.piped

    def __init__(self, url: str) -> None:
        """Connect to ``url`` and migrate its schema; StoreError when it cannot be used."""
        self.path = _redacted(url)
        try:
            self._db = PgConnection(url)  # type: ignore[assignment]
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the execution store at {self.path}: {_first_line(exc)}"
            ) from None
        self._start_memory()
        self._checkpointer = None
        self._outbox_ids: deque[int] = deque()
        self._notify: set[str] = set()  # executions this transaction stepped
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    @property
    def _pg(self) -> PgConnection:
        return self._db  # type: ignore[return-value]

    def _migrate(self) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            self._db.execute("CREATE TABLE IF NOT EXISTS sfn_schema (version INTEGER NOT NULL)")
            row = self._db.execute("SELECT max(version) FROM sfn_schema").fetchone()
            version = int(row[0] or 0) if row else 0
            if version > PG_SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this program's"
                    f" {PG_SCHEMA_VERSION}: run the newer version, or use another database"
                )
            for target in range(version + 1, PG_SCHEMA_VERSION + 1):
                self._pg.script(PG_MIGRATIONS[target])
                self._db.execute("DELETE FROM sfn_schema")
                self._db.execute("INSERT INTO sfn_schema (version) VALUES (?)", (target,))
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _begin(self) -> None:
        self._pg.reconnect_if_broken()
        if self._pg.in_transaction:  # a failed COMMIT can leave one open
            self._rollback()
        self._db.execute("BEGIN")

    def _commit(self) -> None:
        if self._notify:  # other replicas' consoles are told with the commit (changes.py)
            for payload in notification_payloads(self._notify):
                self._db.execute("SELECT pg_notify(?, ?)", (CHANGES_CHANNEL, payload))
            self._notify.clear()
        self._db.execute("COMMIT")
        self._pg.sync()  # in a pipeline: the commit is done (or raises) here

    def _changed(self, execution_arn: str) -> None:
        self._notify.add(execution_arn)

    def _failed(self) -> None:
        self._pg.recover()
        if self._depth <= 1:  # the whole transaction is rolled back: nothing to tell
            self._notify.clear()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the commits made inside into one transaction, each a savepoint, sent as a
        pipeline: a step costs the round trips of its reads and one for its writes."""
        self._pg.reconnect_if_broken()
        with self._pg.pipeline(), self._transaction():
            yield

    @contextmanager
    def deferred_batch(self) -> Iterator[PendingCommit]:
        """:meth:`batch`, committed here when the block ends: the server's round trip is
        short, and a lost connection is retried on this thread (see the module)."""
        with self.batch():
            yield CommittedBatch()

    def execution_by_token(self, token: str) -> ExecutionRecord | None:
        """The execution waiting for the task with ``token``, if any (locked as by
        :meth:`execution_by_arn`, in one round trip)."""
        if not self._depth:
            return super().execution_by_token(token)
        found = self._db.execute(
            "SELECT e.arn, e.revision FROM tasks t JOIN executions e ON e.arn = t.execution_arn"
            " WHERE t.token=? FOR UPDATE OF e SKIP LOCKED",
            (token,),
        ).fetchone()
        if found is None:
            row = self._db.execute("SELECT execution_arn FROM tasks WHERE token=?", (token,))
            owner = row.fetchone()
            if owner is None:
                return None
            return self.execution_by_arn(owner[0])  # locked elsewhere: ExecutionBusy
        return self._cached(found[0], found[1])

    def _cached(self, arn: str, revision: int) -> ExecutionRecord | None:
        """The cached record of ``arn`` if it is at ``revision``, else read from its row."""
        cached = self._cache.get(arn)
        if cached is not None and cached.revision == revision:
            return cached
        return self._load(arn)

    def _insert_outbox(self, outbox: Sequence[OutboxMessage], created: float) -> list[int]:
        # Ids are taken from the sequence ahead, many at a time, so that an insert needs no
        # answer: in a pipeline it costs no round trip of its own.
        while len(self._outbox_ids) < len(outbox):
            rows = self._db.execute(
                "SELECT nextval('outbox_id_seq') FROM generate_series(1, ?)", (OUTBOX_IDS,)
            ).fetchall()
            self._outbox_ids.extend(int(row[0]) for row in rows)
        ids = [self._outbox_ids.popleft() for _ in outbox]
        self._db.executemany(
            "INSERT INTO outbox (id, exchange, routing_key, body, correlation_id, reply_to,"
            " created) VALUES (?,?,?,?,?,?,?)",
            [
                (i, m.exchange, m.routing_key, m.body, m.correlation_id, m.reply_to, created)
                for i, m in zip(ids, outbox, strict=True)
            ],
        )
        self._remember_outbox(outbox, ids)
        return ids

    def _rollback(self) -> None:
        with suppress(psycopg.Error):
            self._db.execute("ROLLBACK")

    def execution_by_arn(self, arn: str) -> ExecutionRecord | None:
        """The execution with ``arn``, if any. Inside a batch its row is locked until the
        batch commits; :class:`ExecutionBusy` when another replica holds it."""
        if not self._depth:
            self._pg.reconnect_if_broken()
            row = self._db.execute("SELECT revision FROM executions WHERE arn=?", (arn,))
            found = row.fetchone()
            if found is None:
                return None
        else:
            found = self._db.execute(
                "SELECT revision FROM executions WHERE arn=? FOR UPDATE SKIP LOCKED", (arn,)
            ).fetchone()
            if found is None:
                exists = self._db.execute("SELECT 1 FROM executions WHERE arn=?", (arn,))
                if exists.fetchone() is not None:
                    raise ExecutionBusy(arn)
                return None
        return self._cached(arn, found[0])

    def claim_outbox(self, older_than: float) -> list[OutboxMessage]:
        """Unsent messages left behind, claimed for this replica's sweep, in commit order."""
        now = time.time()
        before = min(now - SWEEP_AGE_SECONDS, older_than)
        with self._transaction():
            rows = self._db.execute(
                "UPDATE outbox SET claimed=? WHERE id IN (SELECT id FROM outbox"
                " WHERE created < ? AND (claimed IS NULL OR claimed < ?) ORDER BY id LIMIT ?"
                " FOR UPDATE SKIP LOCKED)"
                " RETURNING id, exchange, routing_key, body, correlation_id, reply_to",
                (now, before, now - CLAIM_SECONDS, SWEEP_LIMIT),
            ).fetchall()
        return [_outbox(row) for row in sorted(rows)]

    def forget_unserved(self) -> None:
        """Nothing to forget: the table is shared, and each replica's watcher keeps it."""

    def close(self) -> None:
        """Close the connection."""
        with suppress(psycopg.Error):
            self._db.close()


def _redacted(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the PostgreSQL database"
    host = info.get("host", "localhost")
    port = info.get("port", 5432)
    return f"postgresql://{info.get('user', '')}@{host}:{port}/{info.get('dbname', '')}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
