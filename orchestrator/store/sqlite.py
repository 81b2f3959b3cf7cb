"""The execution store on SQLite: WAL mode, one file, a schema that upgrades itself.

One transaction holds an execution's new state, its new history events and the messages the
step decided to send (the transactional outbox of DESIGN.md): a crash after the commit
republishes the outbox on restart, a crash before it leaves the inbound message unacked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from orchestrator.asl.interpreter import ExecutionState, HistoryEvent
from orchestrator.store import rows as state_rows
from orchestrator.store.cache import StagedCache
from orchestrator.store.express.starts import ExpressStartsMixin
from orchestrator.store.map_runs import MapRunsMixin
from orchestrator.store.pending_commit import PendingCommit
from orchestrator.store.records import (
    ActivityRecord,
    ExecutionBusy,
    ExecutionExists,
    ExecutionRecord,
    ExecutionSummary,
    OutboxMessage,
    StateMachineRecord,
    StoreError,
)
from orchestrator.store.schema import MIGRATIONS, SCHEMA_VERSION
from orchestrator.store.versions import VersionsMixin
from orchestrator.store.wal_checkpointer import WalCheckpointer

_REDRIVEN = "IFNULL(json_extract(state, '$.redrive_count'), 0) > 0"


def _execution_filters(
    status: str | None, state_machine: str | None, map_run: str | None, redriven: bool | None
) -> tuple[list[str], list[str | int]]:
    """The WHERE clauses (and their parameters) of a listing of executions."""
    clauses: list[str] = []
    params: list[str | int] = []
    for column, value in (
        ("status", status),
        ("state_machine", state_machine),
        ("map_run", map_run),
    ):
        if value:
            clauses.append(f"{column}=?")
            params.append(value)
    if redriven is not None:  # (RedriveExecution counts in the state, its row's JSON)
        clauses.append(_REDRIVEN if redriven else f"NOT {_REDRIVEN}")
    return clauses, params


# Askers of a running execution besides the one that started it (each gets its result).
MAX_WAITERS = 100
# Running executions whose states stay parsed in memory, most recently stepped first.
CACHED_EXECUTIONS = 512
# Outbox rows just written, kept to be published without reading them back (a batch's
# steps write a few each; the publisher asks for them once the batch has committed).
CACHED_OUTBOX_ROWS = 4096
# A StateMachineRecord per row: the state machine with its current definition's text.
_STATE_MACHINES = (
    "SELECT s.name, d.definition, s.definition_hash, s.type, s.role_arn, s.created, s.updated"
    " FROM state_machines s JOIN definitions d ON d.hash = s.definition_hash"
)


class SqliteStore(VersionsMixin, MapRunsMixin, ExpressStartsMixin):
    """The embedded store. Only the orchestrator's event-loop thread uses it, except for a
    batch's COMMIT, which :meth:`deferred_batch` lets run on another thread."""

    # What the database raises for a broken UNIQUE rule (a start whose name is taken).
    _integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    # Whether a statement's outcome arrives later (a server store's pipeline): a step's
    # revision check is then read once all its writes are sent, at the step's end.
    _pipelined = False

    def __init__(self, path: str | Path, *, checkpoint_in_background: bool = False) -> None:
        """Open (creating or upgrading) the store at ``path``.

        ``checkpoint_in_background``: a long-running writer (the service) moves SQLite's WAL
        checkpoints to a thread, so that no commit pays for one.
        """
        self.path = str(path)
        if self.path != ":memory:":
            _check_file(Path(self.path))
        # Not bound to one thread: a deferred batch's COMMIT runs on another (the connection
        # is only ever used by one thread at a time, see ``_db``).
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._open(checkpoint_in_background)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    f"{self.path} is in use by another process ({exc}); one orchestrator"
                    " per store file"
                ) from None
            raise StoreError(
                f"{self.path} is not a usable execution store ({exc}). If it is damaged,"
                " restore it from a backup or move it away to start with a new store."
            ) from None

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection, once no deferred COMMIT is in flight on another thread: a use
        from this thread waits for it and settles it first (see pending_commit.py)."""
        self._await_commit()
        return self._connection

    @_db.setter
    def _db(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._inflight: PendingCommit | None = None

    def _await_commit(self) -> None:
        """Wait for a deferred COMMIT in flight, and settle it (see pending_commit.py)."""
        if self._inflight is not None:
            self._inflight.settle()

    def _start_memory(self) -> None:
        """The store's in-memory state: no transaction open, nothing cached."""
        self._depth = 0  # open transaction levels (a batch, savepoints inside it)
        # Running executions' latest states, as committed (see cache.py).
        self._cache: StagedCache[str, ExecutionRecord] = StagedCache(CACHED_EXECUTIONS)
        self._outbox_cache: StagedCache[int, OutboxMessage] = StagedCache(CACHED_OUTBOX_ROWS)

    def _open(self, checkpoint_in_background: bool) -> None:
        self._start_memory()
        # A new file gets 2 KiB pages (an existing one keeps its size): a step rewrites a
        # few rows in as many pages, and the WAL receives whole pages, so smaller pages write
        # about 40% fewer bytes per step (34 -> 21 KB on the call-center workflow); the
        # broker's fsyncs share the disk with them.
        self._db.execute("PRAGMA page_size=2048")
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it returns, so a step whose inbound message is then
        # acked survives an OS crash or power loss too, as the broker's fsynced queues do.
        # (NORMAL survives only a killed process.) Grouped commits make the fsync cheap.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # Each step of a batch is a savepoint, whose undo SQLite journals to a temporary file
        # (a system call per page touched); in memory it costs none. It serves a rollback
        # inside the open transaction only, never recovery.
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._checkpointer: WalCheckpointer | None = None
        self._migrate()
        if checkpoint_in_background and self.path != ":memory:":
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = WalCheckpointer(self.path)
            self._checkpointer.start()

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this program's"
                f" {SCHEMA_VERSION}: run the newer version, or use another store file"
            )
        # A damaged file often opens fine and fails at its first read: read the schema now.
        self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        for target in range(version + 1, SCHEMA_VERSION + 1):
            # Another process may open the same file at the same moment (a tool reading the
            # store while the service starts): each step takes the write lock, then looks
            # again at the version, so a step another process made is not made twice.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (current,) = self._db.execute("PRAGMA user_version").fetchone()
                if current < target:
                    for statement in _statements(MIGRATIONS[target]):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={target}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """A transaction; inside :meth:`batch`, a savepoint of the batch's transaction."""
        self._await_commit()
        if self._depth:
            self._depth += 1
            savepoint = f"s{self._depth}"
            self._db.execute(f"SAVEPOINT {savepoint}")
            self._stage_begin()
            try:
                yield
                self._db.execute(f"RELEASE {savepoint}")
            except BaseException:
                self._stage_rollback()
                self._failed()
                self._db.execute(f"ROLLBACK TO {savepoint}")
                self._db.execute(f"RELEASE {savepoint}")
                raise
            finally:
                self._depth -= 1
            self._stage_release()
            return
        self._begin_outermost()
        try:
            yield
            self._commit()
        except BaseException as exc:
            self._settled(exc)
            raise
        self._settled(None)

    def _begin_outermost(self) -> None:
        self._begin()
        self._depth = 1
        self._stage_begin()

    def _settled(self, error: BaseException | None) -> None:
        """The outermost transaction committed (``error`` None) or failed: its staged cache
        entries join the cache, or vanish with the transaction."""
        self._inflight = None
        self._depth = 0
        if error is not None:
            self._stage_rollback()
            self._failed()
            self._rollback()
            return
        self._stage_release()
        if self._checkpointer is not None:
            self._checkpointer.catch_up(self._connection)

    # The caches follow the transaction levels (see cache.py).
    def _stage_begin(self) -> None:
        self._cache.begin()
        self._outbox_cache.begin()

    def _stage_release(self) -> None:
        self._cache.release()
        self._outbox_cache.release()

    def _stage_rollback(self) -> None:
        self._cache.rollback()
        self._outbox_cache.rollback()

    def _begin(self) -> None:
        """Open a transaction that holds the write lock from its start."""
        if self._db.in_transaction:  # a failed COMMIT (a full disk) can leave one open
            self._rollback()
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        """Commit the open transaction (raising when it cannot); on any thread (a deferred
        batch's runs on another)."""
        self._connection.execute("COMMIT")

    def _failed(self) -> None:
        """A statement failed inside the transaction: ready it for a rollback (SQLite is)."""

    def _changed(self, execution_arn: str) -> None:
        """A step extended ``execution_arn``'s history (one process: the engine tells the
        console itself)."""

    def _rollback(self) -> None:
        """Roll the open transaction back; a failure to do so leaves SQLite to roll it back
        (it does when the next statement finds the transaction dead), never masks the fault."""
        with suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the commits made inside into one transaction (each one a savepoint).

        One fsync-worthy commit for many steps: a failing step rolls back only itself.
        """
        with self._transaction():
            yield

    @contextmanager
    def deferred_batch(self) -> Iterator[PendingCommit]:
        """:meth:`batch`, except that the COMMIT is left to the caller: after the block, run
        ``commit()`` of what it yields on any thread, then ``finish()`` on this one.

        Until then the batch is in flight: this thread's next use of the store waits for it.
        A failing block rolls the batch back here, as :meth:`batch` does.
        """
        self._await_commit()
        self._begin_outermost()
        try:
            yield (pending := PendingCommit(self._commit, self._settled))
        except BaseException as exc:
            self._settled(exc)
            raise
        self._inflight = pending

    def execution(self, state_machine: str, name: str) -> ExecutionRecord | None:
        """The execution called ``name`` of ``state_machine``, if any."""
        row = self._db.execute(
            "SELECT arn FROM executions WHERE state_machine=? AND name=?", (state_machine, name)
        ).fetchone()
        return self.execution_by_arn(row[0]) if row else None

    def execution_by_token(self, token: str) -> ExecutionRecord | None:
        """The execution waiting for the task with ``token``, if any."""
        row = self._db.execute("SELECT execution_arn FROM tasks WHERE token=?", (token,)).fetchone()
        return self.execution_by_arn(row[0]) if row else None

    def execution_by_arn(self, arn: str) -> ExecutionRecord | None:
        """The execution with ``arn``, if any."""
        self._await_commit()  # the cache holds that batch's states staged
        cached = self._cache.get(arn)
        if cached is not None:
            return cached
        return self._load(arn)

    def _load(self, arn: str) -> ExecutionRecord | None:
        """The execution with ``arn`` read from its row (and remembered while it runs)."""
        row = self._db.execute(
            "SELECT id, state, reply_to, correlation_id, definition_hash, layout, revision"
            " FROM executions WHERE arn=?",
            (arn,),
        ).fetchone()
        if row is None:
            return None
        key, state_json, reply_to, correlation_id, digest, layout, revision = row
        record = ExecutionRecord(
            self._state(key, state_json, layout),
            reply_to,
            correlation_id,
            digest,
            bool(layout),
            revision,
            key,
        )
        if record.state.status == "RUNNING":
            self._cache.remember(arn, record)
        return record

    def _state(self, key: int, state_json: str, layout: int) -> ExecutionState:
        """An execution's state from its row (and its parts when split)."""
        if not layout:
            return ExecutionState.model_validate_json(state_json)
        parts = self._db.execute("SELECT part, body FROM parts WHERE execution=?", (key,))
        [(input_json,)] = self._db.execute(
            "SELECT input FROM executions WHERE id=?", (key,)
        ).fetchall()
        return state_rows.assemble(state_json, input_json, parts.fetchall())

    def due_timers(self, now: float, limit: int = 500) -> list[tuple[str, str]]:
        """(timer id, execution ARN) of timers due at ``now`` (epoch seconds), soonest first."""
        rows = self._db.execute(
            "SELECT id, execution_arn FROM timers WHERE due <= ? ORDER BY due LIMIT ?",
            (now, limit),
        )
        return [(timer, arn) for timer, arn in rows]

    def save_definition(self, name: str, text: str) -> str:
        """Store ``text`` as the current definition of state machine ``name``; its hash."""
        digest = hashlib.sha256(text.encode()).hexdigest()
        now = time.time()
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO definitions (hash, name, definition, created)"
                " VALUES (?,?,?,?)",
                (digest, name, text, now),
            )
            self._db.execute(
                "INSERT INTO state_machines (name, definition_hash, created, updated)"
                " VALUES (?,?,?,?) ON CONFLICT (name) DO UPDATE SET"
                " definition_hash=excluded.definition_hash, updated=excluded.updated"
                " WHERE state_machines.definition_hash != excluded.definition_hash",
                (name, digest, now, now),
            )
        return digest

    def state_machine(self, name: str) -> StateMachineRecord | None:
        """The state machine ``name`` with its current definition, if it exists."""
        row = self._db.execute(_STATE_MACHINES + " WHERE s.name=?", (name,)).fetchone()
        return StateMachineRecord(*row) if row else None

    def state_machines(self) -> list[StateMachineRecord]:
        """Every state machine, by name."""
        rows = self._db.execute(_STATE_MACHINES + " ORDER BY s.name")
        return [StateMachineRecord(*row) for row in rows]

    def state_machine_digests(self) -> dict[str, tuple[str, str, str | None]]:
        """Every state machine's (definition hash, type, role ARN), by name: what another
        orchestrator sharing the store compares with its own to see a change cheaply."""
        rows = self._db.execute("SELECT name, definition_hash, type, role_arn FROM state_machines")
        return {name: (digest, kind, role) for name, digest, kind, role in rows}

    def put_state_machine(
        self, name: str, text: str, machine_type: str, role_arn: str | None
    ) -> StateMachineRecord:
        """Create or update state machine ``name``; the stored record."""
        digest = self.save_definition(name, text)
        with self._transaction():
            self._db.execute(
                "UPDATE state_machines SET type=?, role_arn=COALESCE(?, role_arn) WHERE name=?",
                (machine_type, role_arn, name),
            )
        record = self.state_machine(name)
        assert record is not None and record.definition_hash == digest
        return record

    def delete_state_machine(self, name: str) -> None:
        """Forget state machine ``name`` (its executions and definitions stay)."""
        with self._transaction():
            self._db.execute("DELETE FROM state_machines WHERE name=?", (name,))

    def create_activity(self, name: str) -> tuple[ActivityRecord, bool]:
        """Create activity ``name`` unless it exists: (the activity, whether it is new)."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO activities (name, created) VALUES (?,?)", (name, time.time())
            )
            record = self.activity(name)
        assert record is not None
        return record, cursor.rowcount == 1

    def activity(self, name: str) -> ActivityRecord | None:
        """The activity ``name``, if it exists."""
        row = self._db.execute("SELECT name, created FROM activities WHERE name=?", (name,))
        found = row.fetchone()
        return ActivityRecord(*found) if found else None

    def activities(self) -> list[ActivityRecord]:
        """Every activity, by name."""
        rows = self._db.execute("SELECT name, created FROM activities ORDER BY name")
        return [ActivityRecord(*row) for row in rows]

    def delete_activity(self, name: str) -> bool:
        """Forget activity ``name``; whether it existed."""
        with self._transaction():
            cursor = self._db.execute("DELETE FROM activities WHERE name=?", (name,))
        return cursor.rowcount == 1

    def activity_exists(self, name: str) -> bool:
        """Whether activity ``name`` exists (a Task naming one that does not fails)."""
        return self.activity(name) is not None

    def tags(self, resource_arn: str) -> dict[str, str]:
        """The tags of a resource."""
        rows = self._db.execute(
            "SELECT key, value FROM tags WHERE resource_arn=? ORDER BY key", (resource_arn,)
        )
        return dict(rows.fetchall())

    def set_tags(self, resource_arn: str, tags: dict[str, str], remove: Iterable[str] = ()) -> None:
        """Add or replace ``tags`` and remove the keys in ``remove``."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO tags (resource_arn, key, value) VALUES (?,?,?)",
                [(resource_arn, k, v) for k, v in tags.items()],
            )
            self._db.executemany(
                "DELETE FROM tags WHERE resource_arn=? AND key=?",
                [(resource_arn, k) for k in remove],
            )

    def definition(self, digest: str) -> tuple[str, str] | None:
        """(state machine name, definition text) stored under ``digest``."""
        row = self._db.execute(
            "SELECT name, definition FROM definitions WHERE hash=?", (digest,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def delete_timer(self, timer: str) -> None:
        """Forget a timer that no longer applies."""
        self._db.execute("DELETE FROM timers WHERE id=?", (timer,))

    def postpone_timer(self, timer: str, due: float) -> None:
        """Move a timer that could not be fired to ``due`` (epoch seconds)."""
        self._db.execute("UPDATE timers SET due=? WHERE id=?", (due, timer))

    def next_timer_due(self) -> float | None:
        """When the soonest timer is due (epoch seconds), if there is one."""
        (due,) = self._db.execute("SELECT MIN(due) FROM timers").fetchone()
        return float(due) if due is not None else None

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
        """Store the execution, its new history, tasks, timers and outbox in one transaction.

        ``previous`` is the state before this step: only the tasks and timers that changed
        are written. Returns the outbox ids. Raises :class:`ExecutionExists` when ``new`` and
        the name is taken.
        """
        state = record.state
        # A large running state is kept in rows; once split it stays so while it runs.
        split = state.status == "RUNNING" and (record.split or state_rows.split_wanted(state))
        state_json = state_rows.head(state) if split else state.model_dump_json()
        values = (state.status, state_json, _iso(state.stop_time), int(split))
        with self._transaction():
            check: Any = None  # an UPDATE whose outcome is read at the end (pipelined)
            if new:
                try:
                    cursor = self._db.execute(
                        "INSERT INTO executions (arn, state_machine, name, input, reply_to,"
                        " correlation_id, definition_hash, map_run, start_date, status, state,"
                        " stop_date, layout) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            state.execution_arn,
                            state.state_machine_name,
                            state.execution_name,
                            json.dumps(state.input),
                            record.reply_to,
                            record.correlation_id,
                            record.definition_hash,
                            (state.parent or {}).get("map_run"),
                            _iso(state.start_time),
                            *values,
                        ),
                    )
                except self._integrity_errors as exc:
                    raise ExecutionExists(state.execution_arn) from exc
                key = int(cursor.lastrowid or 0)
            else:
                # Most steps leave the status alone: not naming it spares the status index
                # a page write (SQLite rewrites the index entry of every column it sets).
                # The revision guards against a step of the same execution that another
                # process sharing the store committed since this one read it.
                where = " revision=revision+1 WHERE arn=? AND revision=? RETURNING id"
                if previous is not None and previous.status == state.status:
                    update = "UPDATE executions SET state=?, layout=?," + where
                    params: tuple[Any, ...] = (state_json, int(split))
                else:
                    update = "UPDATE executions SET status=?, state=?, stop_date=?, layout=?,"
                    update += where
                    params = values
                updated = self._db.execute(update, (*params, state.execution_arn, record.revision))
                if self._pipelined and record.key:
                    key, check = record.key, updated
                else:
                    rows = updated.fetchall()
                    if not rows:
                        raise ExecutionBusy(state.execution_arn)
                    [(key,)] = rows
            arn = state.execution_arn
            # Only the tokens and timers the step changed (the maps share the rest), and most
            # steps change one token and no timer: skip the statements with nothing to do.
            if previous is not None:
                tokens, gone = state.tokens.changes_from(previous.tokens)
            else:
                tokens, gone = list(state.tokens), []
            if gone:
                self._db.executemany("DELETE FROM tasks WHERE token=?", [(t,) for t in gone])
            if tokens:
                self._db.executemany(
                    "INSERT OR REPLACE INTO tasks (token, execution_arn) VALUES (?,?)",
                    [(t, arn) for t in tokens],
                )
            if previous is not None:
                timers, stopped = state.timers.changes_from(previous.timers)
            else:
                timers, stopped = list(state.timers), []
            if stopped:
                self._db.executemany("DELETE FROM timers WHERE id=?", [(t,) for t in stopped])
            if timers:
                self._db.executemany(
                    "INSERT OR REPLACE INTO timers (id, execution_arn, due) VALUES (?,?,?)",
                    [(t, arn, _epoch(state.timers[t].due)) for t in timers],
                )
            if history:
                self._db.executemany(
                    "INSERT INTO history (execution, id, event) VALUES (?,?,?)",
                    [(key, event.id, _event_json(event)) for event in history],
                )
            if split:
                changes = (
                    state_rows.changed_parts(state, previous)
                    if record.split and previous is not None
                    else state_rows.all_parts(state)
                )
                self._write_parts(key, changes)
            elif record.split:  # finished: its state is whole in its row again
                self._db.execute("DELETE FROM parts WHERE execution=?", (key,))
            if state.status != "RUNNING" and (previous is None or previous.status == "RUNNING"):
                self._db.execute("DELETE FROM waiters WHERE execution=?", (key,))
            self._keep_map_runs(state, history)
            if history:
                self._changed(arn)
            ids = self._insert_outbox(outbox, created)
            if check is not None and not check.fetchall():  # the step's writes are undone
                raise ExecutionBusy(state.execution_arn)
            # A finished execution leaves the cache: the engine does not step it again.
            kept = dataclasses.replace(
                record, split=split, revision=0 if new else record.revision + 1, key=key
            )
            self._cache.stage(arn, kept if state.status == "RUNNING" else None)
        return ids

    def _write_parts(self, key: int, parts: Iterable[state_rows.Part]) -> None:
        writes: list[tuple[int, str, bytes]] = []
        deletes: list[tuple[int, str]] = []
        for part, body in parts:
            if body is None:
                deletes.append((key, part))
            else:
                writes.append((key, part, body))
        if deletes:
            self._db.executemany("DELETE FROM parts WHERE execution=? AND part=?", deletes)
        if writes:
            self._db.executemany(
                "INSERT OR REPLACE INTO parts (execution, part, body) VALUES (?,?,?)", writes
            )

    def enqueue(self, outbox: Sequence[OutboxMessage], *, created: float) -> list[int]:
        """Add messages to the outbox on their own (no execution changed); their ids."""
        with self._transaction():
            return self._insert_outbox(outbox, created)

    def _insert_outbox(self, outbox: Sequence[OutboxMessage], created: float) -> list[int]:
        ids = []
        for message in outbox:
            cursor = self._db.execute(
                "INSERT INTO outbox (exchange, routing_key, body, correlation_id, reply_to,"
                " created) VALUES (?,?,?,?,?,?)",
                (
                    message.exchange,
                    message.routing_key,
                    message.body,
                    message.correlation_id,
                    message.reply_to,
                    created,
                ),
            )
            ids.append(int(cursor.lastrowid or 0))
        self._remember_outbox(outbox, ids)
        return ids

    def _remember_outbox(self, outbox: Sequence[OutboxMessage], ids: list[int]) -> None:
        """Keep new rows to publish without reading them back (only once committed)."""
        for m, key in zip(outbox, ids, strict=True):
            row = OutboxMessage(
                m.exchange, m.routing_key, m.body, m.correlation_id, m.reply_to, key
            )
            self._outbox_cache.stage(key, row)

    def pending_outbox(self, older_than: float | None = None) -> list[OutboxMessage]:
        """Unpublished messages in commit order (created before ``older_than`` when given)."""
        query = "SELECT id, exchange, routing_key, body, correlation_id, reply_to FROM outbox"
        params: tuple[Any, ...] = ()
        if older_than is not None:
            query += " WHERE created < ?"
            params = (older_than,)
        return [_outbox(row) for row in self._db.execute(query + " ORDER BY id", params)]

    def claim_outbox(self, older_than: float) -> list[OutboxMessage]:
        """The rows a sweep is to send again: those committed before ``older_than`` and still
        unsent (this store has one writer: nobody else sends them)."""
        return self.pending_outbox(older_than)

    def outbox_messages(self, ids: Iterable[int]) -> list[OutboxMessage]:
        """The still-unpublished messages among ``ids``, in commit order."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        # Just committed (the usual case): in memory, so no read waits for a batch in flight.
        # (A row the sweep sent meanwhile would go twice; downstream drops duplicates.)
        cached = [self._outbox_cache.get(key) for key in wanted]
        if all(cached):
            return sorted((row for row in cached if row is not None), key=lambda row: row.id)
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            "SELECT id, exchange, routing_key, body, correlation_id, reply_to FROM outbox"
            f" WHERE id IN ({marks}) ORDER BY id",
            wanted,
        )
        return [_outbox(row) for row in rows]

    def delete_outbox(self, ids: Iterable[int]) -> None:
        """Forget messages the broker has confirmed (one statement: one transaction)."""
        wanted = list(ids)
        if wanted:
            marks = ",".join("?" * len(wanted))
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", wanted)
            for key in wanted:
                self._outbox_cache.stage(key, None)

    def history(
        self,
        execution_arn: str,
        first: int = 1,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """The execution's history events, oldest first, in AWS's shape: from event id
        ``first``, at most ``limit`` of them (read from the index, however long the history).
        ``newest_first`` reads from ``first`` down instead."""
        order = "h.id<=? ORDER BY h.id DESC" if newest_first else "h.id>=? ORDER BY h.id"
        params: tuple[Any, ...] = (execution_arn, first)
        if limit is not None:
            order += " LIMIT ?"
            params += (limit,)
        rows = self._db.execute(
            "SELECT h.event FROM history h JOIN executions e ON h.execution = e.id"
            f" WHERE e.arn=? AND {order}",
            params,
        )
        return [json.loads(event) for (event,) in rows]

    def executions(
        self,
        status: str | None = None,
        *,
        state_machine: str | None = None,
        name: str | None = None,
        limit: int | None = None,
    ) -> list[ExecutionState]:
        """Executions, newest first, filtered by status, state machine and name."""
        clauses, params = [], []
        for column, value in (("status", status), ("state_machine", state_machine), ("name", name)):
            if value:
                clauses.append(f"{column}=?")
                params.append(value)
        query = "SELECT id, state, layout FROM executions"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY start_date DESC, id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        rows = self._db.execute(query, params).fetchall()
        return [self._state(key, state, layout) for key, state, layout in rows]

    def set_unserved(self, function: str, since: float | None) -> None:
        """Record that ``function`` has tasks waiting and no worker since ``since`` (epoch
        seconds), or with None that it is served again."""
        with self._transaction():
            if since is None:
                self._db.execute("DELETE FROM unserved WHERE function=?", (function,))
            else:
                self._db.execute(
                    "INSERT OR IGNORE INTO unserved (function, since) VALUES (?,?)",
                    (function, since),
                )

    def forget_unserved(self) -> None:
        """Forget what an earlier run saw: the service looks again when it starts."""
        with self._transaction():
            self._db.execute("DELETE FROM unserved")

    def unserved(self) -> dict[str, float]:
        """Functions with tasks waiting and no worker, and since when (epoch seconds)."""
        return dict(self._db.execute("SELECT function, since FROM unserved"))

    def add_waiter(self, execution_arn: str, reply_to: str, correlation_id: str | None) -> bool:
        """Answer ``reply_to`` too when the execution ends; False when it has too many."""
        with self._transaction():
            row = self._db.execute(
                "SELECT e.id, (SELECT count(*) FROM waiters w WHERE w.execution = e.id)"
                " FROM executions e WHERE e.arn=?",
                (execution_arn,),
            ).fetchone()
            if row is None or row[1] >= MAX_WAITERS:
                return False
            self._db.execute(
                "INSERT OR IGNORE INTO waiters (execution, reply_to, correlation_id)"
                " VALUES (?,?,?)",
                (row[0], reply_to, correlation_id or ""),
            )
        return True

    def waiters(self, execution_arn: str) -> list[tuple[str, str | None]]:
        """(reply_to, correlation_id) of the execution's other askers."""
        rows = self._db.execute(
            "SELECT w.reply_to, w.correlation_id FROM waiters w"
            " JOIN executions e ON e.id = w.execution WHERE e.arn=?",
            (execution_arn,),
        )
        return [(reply_to, correlation or None) for reply_to, correlation in rows]

    def execution_summaries(
        self,
        status: str | None = None,
        *,
        state_machine: str | None = None,
        map_run: str | None = None,
        redriven: bool | None = None,
    ) -> list[ExecutionSummary]:
        """Executions, newest first, filtered by status, state machine and Map Run, from the
        columns alone: a row whose state cannot be read still lists, and listing parses
        nothing."""
        clauses, params = _execution_filters(status, state_machine, map_run, redriven)
        query = "SELECT arn, name, status, start_date, stop_date FROM executions"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY start_date DESC, id DESC"
        return [
            ExecutionSummary(
                arn,
                _state_machine_arn(arn),
                name,
                row_status,
                datetime.fromisoformat(start),
                datetime.fromisoformat(stop) if stop else None,
            )
            for arn, name, row_status, start, stop in self._db.execute(query, params)
        ]

    def last_event_id(self, execution_arn: str) -> int:
        """The id of the execution's newest history event (0 for none or no such execution)."""
        row = self._db.execute(
            "SELECT max(h.id) FROM history h JOIN executions e ON h.execution = e.id WHERE e.arn=?",
            (execution_arn,),
        ).fetchone()
        return int(row[0] or 0)

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
    ) -> tuple[list[ExecutionSummary], tuple[str, int] | None]:
        """One page of executions, newest first, filtered; and the cursor of the next page
        (None at the end). Keyset paging on (start_date, id): a page costs the same however
        deep it is and however many executions the store holds."""
        clauses, params = _execution_filters(status, state_machine, map_run, redriven)
        if name_prefix:
            clauses.append("substr(name, 1, ?) = ?")
            params.extend([len(name_prefix), name_prefix])
        if started_after is not None:
            clauses.append("start_date >= ?")
            params.append(started_after.isoformat())
        if started_before is not None:
            clauses.append("start_date < ?")
            params.append(started_before.isoformat())
        if cursor is not None:
            clauses.append("(start_date < ? OR (start_date = ? AND id < ?))")
            params.extend([cursor[0], cursor[0], cursor[1]])
        query = "SELECT id, arn, name, status, start_date, stop_date FROM executions"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY start_date DESC, id DESC LIMIT ?"
        params.append(max(1, min(limit, 1000)) + 1)
        rows = self._db.execute(query, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        page = [
            ExecutionSummary(
                arn,
                _state_machine_arn(arn),
                name,
                row_status,
                datetime.fromisoformat(start),
                datetime.fromisoformat(stop) if stop else None,
            )
            for _, arn, name, row_status, start, stop in rows
        ]
        following = (rows[-1][4], rows[-1][0]) if more and rows else None
        return page, following

    def close(self) -> None:
        """Close the database file."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._db.close()


def _statements(script: str) -> list[str]:
    """The SQL statements of a migration script, one by one (so they run in one transaction
    the caller holds; ``executescript`` would commit it first)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def _state_machine_arn(execution_arn: str) -> str:
    """``arn:P:states:R:A:stateMachine:SM`` of ``arn:P:states:R:A:execution:SM:NAME``."""
    parts = execution_arn.split(":")
    return ":".join([*parts[:5], "stateMachine", parts[6]]) if len(parts) > 6 else ""


def _check_file(path: Path) -> None:
    """Refuse a store file that SQLite would silently treat as a new, empty database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not an execution store file")
    if path.exists() and path.stat().st_size == 0:
        wal = Path(str(path) + "-wal")
        also = f"; {wal} holds {wal.stat().st_size} bytes" if wal.exists() else ""
        raise StoreError(
            f"{path} is empty (0 bytes{also}): it is not an execution store, and opening it"
            " would start an empty one. If it was truncated, restore it from a backup;"
            " to start afresh, remove it."
        )


def _outbox(row: tuple[Any, ...]) -> OutboxMessage:
    return OutboxMessage(row[1], row[2], bytes(row[3]), row[4], row[5], id=row[0])


def _event_json(event: HistoryEvent) -> str:
    """One history event as stored: orjson for speed, json for what orjson refuses (huge ints)."""
    document = event.to_aws()
    try:
        return orjson.dumps(document).decode()
    except TypeError:
        return json.dumps(document, default=_iso)


def _epoch(moment: datetime) -> float:
    """A due date as epoch seconds (``datetime.max``, a due date never reached, included)."""
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return float("inf")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
