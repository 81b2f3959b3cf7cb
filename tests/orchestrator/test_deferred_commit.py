"""A deferred batch's COMMIT runs on another thread; nothing sees the batch before it is on
disk, the store's thread waits for it before using the store again, and a failed COMMIT
rolls the batch back as a synchronous one does (store/pending_commit.py)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

import messages
from orchestrator.asl.loader import load_definition
from orchestrator.engine import Engine
from orchestrator.store import OutboxMessage, SqliteStore
from orchestrator.store.pending_commit import PendingCommit

WAIT = {
    "StartAt": "W",
    "States": {
        "W": {"Type": "Wait", "Seconds": 60, "Next": "P"},
        "P": {"Type": "Pass", "End": True},
    },
}


def _engine(store: SqliteStore) -> Engine:
    return Engine({"Waiting": load_definition(json.dumps(WAIT), name="Waiting")}, store)


def _start(engine: Engine, name: str) -> None:
    engine.start(messages.IntakeRequest(state_machine="Waiting", execution_name=name, input={}))


def _deferred_starts(store: SqliteStore, engine: Engine, *names: str) -> PendingCommit:
    """Start executions ``names`` in a deferred batch; its COMMIT is still to run."""
    with store.deferred_batch() as pending:
        for name in names:
            _start(engine, name)
    return pending


def _commit_on_a_thread(pending: PendingCommit) -> threading.Thread:
    """Run ``pending``'s COMMIT on a thread of its own, as the service does."""
    committer = threading.Thread(target=pending.commit)
    committer.start()
    return committer


def _names_on_disk(path: Path) -> list[str]:
    """The executions another connection sees (only what was committed)."""
    with sqlite3.connect(path) as other:
        return [name for (name,) in other.execute("SELECT name FROM executions ORDER BY name")]


def test_a_deferred_batch_is_seen_only_once_its_commit_on_another_thread_is_done(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    engine = _engine(store)
    pending = _deferred_starts(store, engine, "a", "b")
    assert pending.needs_commit
    assert _names_on_disk(tmp_path / "sfn.db") == []  # statements done, not committed
    _commit_on_a_thread(pending).join()
    assert _names_on_disk(tmp_path / "sfn.db") == ["a", "b"]
    pending.finish()
    pending.finish()  # settled once; finishing again changes nothing
    assert sorted(e.execution_name for e in store.executions()) == ["a", "b"]
    _start(engine, "c")  # the store takes new transactions
    assert _names_on_disk(tmp_path / "sfn.db") == ["a", "b", "c"]


def test_using_the_store_while_a_commit_is_in_flight_waits_for_that_commit(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    engine = _engine(store)
    pending = _deferred_starts(store, engine, "a")
    arn = store.executions()[0].execution_arn  # no thread took the COMMIT: it runs here
    assert _names_on_disk(tmp_path / "sfn.db") == ["a"]
    record = store.execution_by_arn(arn)
    assert record is not None and record.state.status == "RUNNING"
    pending.finish()  # already settled by the read: no second COMMIT, no error

    with store.deferred_batch() as pending:
        _start(engine, "b")
    committer = _commit_on_a_thread(pending)
    # Whether the thread has committed yet or not, this read comes after the COMMIT.
    assert sorted(e.execution_name for e in store.executions()) == ["a", "b"]
    committer.join()
    pending.finish()


class _FailsOneCommit(SqliteStore):
    """A store whose next COMMIT fails as a full disk's does."""

    fail_next = False

    def _commit(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise sqlite3.OperationalError("database or disk is full")
        super()._commit()


def test_a_failed_deferred_commit_rolls_the_batch_back_and_leaves_the_store_usable(
    tmp_path: Path,
) -> None:
    store = _FailsOneCommit(tmp_path / "sfn.db")
    engine = _engine(store)
    _start(engine, "kept")
    [kept] = store.executions()
    store.fail_next = True
    with store.deferred_batch() as pending:
        _start(engine, "lost")
        engine.stop(
            messages.StopExecutionRequest(execution_arn=kept.execution_arn, error="E", cause="c")
        )
    _commit_on_a_thread(pending).join()
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        pending.finish()
    assert _names_on_disk(tmp_path / "sfn.db") == ["kept"]
    # Neither the file nor the cache keeps what the batch did.
    record = store.execution_by_arn(kept.execution_arn)
    assert record is not None and record.state.status == "RUNNING"
    assert [e.execution_name for e in store.executions()] == ["kept"]
    with store.deferred_batch() as pending:
        _start(engine, "next")
    pending.finish()
    assert _names_on_disk(tmp_path / "sfn.db") == ["kept", "next"]


def test_published_rows_come_from_memory_without_waiting_for_a_batch_in_flight(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    engine = _engine(store)
    sent = [
        OutboxMessage("", "q.one", b'{"n": 1}', correlation_id="c1", reply_to="r"),
        OutboxMessage("", "q.two", b'{"n": 2}'),
    ]
    with store.batch():
        ids = store.enqueue(sent, created=1.0)
    with store.deferred_batch() as pending:
        _start(engine, "in-flight")
    rows = store.outbox_messages(ids)
    assert [(r.id, r.routing_key, r.body, r.correlation_id, r.reply_to) for r in rows] == [
        (ids[0], "q.one", b'{"n": 1}', "c1", "r"),
        (ids[1], "q.two", b'{"n": 2}', None, None),
    ]
    assert _names_on_disk(tmp_path / "sfn.db") == []  # the batch in flight was not forced
    pending.finish()
    assert _names_on_disk(tmp_path / "sfn.db") == ["in-flight"]


def test_rows_a_rollback_undid_or_a_confirm_deleted_are_not_published(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    # The inner batch is a savepoint of the outer one's transaction, which commits.
    with store.batch(), pytest.raises(RuntimeError), store.batch():
        undone = store.enqueue([OutboxMessage("", "q", b"{}")], created=1.0)
        raise RuntimeError("the step fails")
    assert store.outbox_messages(undone) == []
    with store.batch():
        kept = store.enqueue([OutboxMessage("", "q", b"[]")], created=1.0)
    assert [row.body for row in store.outbox_messages(kept + kept)] == [b"[]"]  # once each
    with store.batch():
        store.delete_outbox(kept)
    assert store.outbox_messages(kept) == []
