"""A store file that cannot be used is refused with one clear line naming it, never opened
as a new empty store and never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.store import SCHEMA_VERSION, SqliteStore, StoreError
from tests.processes import REPO


def test_an_empty_file_is_refused_not_started_empty(tmp_path: Path) -> None:
    db = tmp_path / "sfn.db"
    db.touch()
    with pytest.raises(StoreError, match=r"sfn\.db is empty \(0 bytes\)"):
        SqliteStore(db)
    assert db.stat().st_size == 0  # left as it was


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "sfn.db"
    db.write_bytes(b"definitely not SQLite\n" * 200)
    with pytest.raises(StoreError, match=r"sfn\.db is not a usable execution store"):
        SqliteStore(db)


def test_a_damaged_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "sfn.db"
    SqliteStore(db).close()
    data = bytearray(db.read_bytes())
    data[100:2048] = b"\xff" * (2048 - 100)  # the schema page, torn
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="not a usable execution store"):
        SqliteStore(db)


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "sfn.db"
    SqliteStore(db).close()
    with sqlite3.connect(db) as connection:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this program"):
        SqliteStore(db)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        SqliteStore(tmp_path)


def test_the_service_exits_with_one_line_naming_the_file(tmp_path: Path) -> None:
    db = tmp_path / "sfn.db"
    db.touch()
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--db", str(db), "--api-port", "0"],
        cwd=REPO,
        env={**os.environ, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(db) in lines[0] and "empty" in lines[0]
    assert "Traceback" not in done.stderr


def test_operator_commands_say_the_same_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "sfn.db"
    db.write_bytes(b"not a database at all\n" * 100)
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "executions", "--db", str(db)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {db} is not a usable execution store")
    assert "Traceback" not in done.stderr


def test_processes_upgrading_a_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    # A tool (or a test) reading the store while the service starts on it and upgrades it:
    # each migration step is taken under the write lock and made by one of them only.
    from orchestrator.store.schema import MIGRATIONS

    opener = (
        "import sys; from orchestrator.store import SqliteStore; SqliteStore(sys.argv[1]).close()"
    )
    old = SCHEMA_VERSION - 2
    for round_ in range(5):
        db = tmp_path / f"race-{round_}.db"
        with sqlite3.connect(db) as connection:  # a store two versions behind
            for version in range(1, old + 1):
                connection.executescript(MIGRATIONS[version])
            connection.execute(f"PRAGMA user_version={old}")
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", opener, str(db)], stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        for run in runs:
            _, error = run.communicate(timeout=60)
            assert run.returncode == 0, error
        store = SqliteStore(db)
        try:
            version = store._db.execute("PRAGMA user_version").fetchone()[0]
        finally:
            store.close()
        assert version == SCHEMA_VERSION
