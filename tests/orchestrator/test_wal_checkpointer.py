"""The store's WAL is checkpointed from a thread: commits stop paying for it, the WAL stays short."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from orchestrator.store import OutboxMessage, SqliteStore
from orchestrator.store.wal_checkpointer import WalCheckpointer, checkpoint

PAGE = 4096


def wal_pages(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size // PAGE if wal.exists() else 0


def write_pages(db: sqlite3.Connection, pages: int) -> None:
    for _ in range(pages):
        db.execute("INSERT INTO t (blob) VALUES (?)", (os.urandom(PAGE),))


def wal_database(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, blob BLOB)")
    return db


def test_a_complete_checkpoint_lets_the_next_write_rewind_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    writer = wal_database(path)
    checkpointer = sqlite3.connect(path, isolation_level=None)
    write_pages(writer, 300)
    assert wal_pages(path) >= 300

    assert checkpoint(checkpointer) >= 300

    writer.execute("INSERT INTO t (blob) VALUES (x'00')")
    # The WAL file keeps its size; its header now counts only the newest frames.
    assert checkpoint(checkpointer) < 10


def test_a_long_wal_is_finished_by_the_writer_when_the_thread_asks(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    writer = wal_database(path)
    helper = WalCheckpointer(str(path), long_wal_pages=100)
    write_pages(writer, 300)
    helper.catch_up(writer)  # not asked: nothing is checkpointed, so the WAL grows
    write_pages(writer, 50)
    grown = wal_pages(path)
    assert grown >= 350

    helper.needs_catch_up = True
    helper.catch_up(writer)
    assert not helper.needs_catch_up
    write_pages(writer, 50)  # rewound: written at the start of the file, which keeps its size
    assert wal_pages(path) == grown


def churn(store: SqliteStore, commits: int, *, round_every: int = 100) -> None:
    """Commits of a lightly loaded service: a 4 KiB message in, then out.

    On a store with a checkpointing thread, the writer lets it finish a round after every
    ``round_every`` commits: however fast the disk and the thread are, no more commits than
    that land between two rounds, so how long the WAL gets depends on counts, not on timing.
    """
    body = os.urandom(PAGE)
    checkpointer = store._checkpointer
    for done in range(1, commits + 1):
        ids = store.enqueue([OutboxMessage("", "q", body)], created=time.time())
        store.delete_outbox(ids)
        if checkpointer is not None and done % round_every == 0:
            seen, deadline = checkpointer.rounds, time.monotonic() + 10
            while checkpointer.rounds == seen and time.monotonic() < deadline:
                time.sleep(0.001)


def test_the_service_store_keeps_its_wal_short_without_autocheckpoints(tmp_path: Path) -> None:
    # Without any checkpoint the WAL holds every commit: the measure of what was written.
    unchecked = SqliteStore(tmp_path / "unchecked.db")
    unchecked._db.execute("PRAGMA wal_autocheckpoint=0")
    churn(unchecked, 1_000)
    everything = wal_pages(tmp_path / "unchecked.db")
    unchecked.close()

    path = tmp_path / "sfn.db"
    store = SqliteStore(path, checkpoint_in_background=True)
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchall() == [(0,)]
        checkpointer = store._checkpointer
        assert checkpointer is not None
        # Rounds a tenth as far apart keep the test short; the writer waits for one every
        # 100 commits. Commits may still overtake a round's checkpoint, and then the
        # writer's catch-up bounds the WAL: asked for early, the bound holds however the
        # race goes.
        checkpointer.every_seconds = 0.1
        checkpointer.long_wal_pages = 500
        churn(store, 1_000)
        assert checkpointer.rounds >= 10
        store.enqueue([OutboxMessage("", "q", b"x")], created=time.time())
        # The WAL keeps about the commits since the last round or two, not all of them.
        assert wal_pages(path) < everything / 2, (wal_pages(path), everything)
    finally:
        store.close()
    assert not any(t.name == "wal-checkpointer" for t in threading.enumerate())


def test_other_stores_keep_sqlites_own_checkpoints(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchall() == [(1000,)]
    finally:
        store.close()
