"""The store's activities: created once by name, read, listed, deleted, and the version 9
migration that adds them to a version 8 file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from orchestrator.store import SCHEMA_VERSION, ActivityRecord, SqliteStore
from orchestrator.store.schema import MIGRATIONS


def test_an_activity_is_created_once_by_name(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    before = time.time()
    first, new = store.create_activity("Approve")
    assert new and first.name == "Approve" and before <= first.created <= time.time()
    again, new_again = store.create_activity("Approve")
    assert (again, new_again) == (first, False)  # the same creation date
    assert store.activity("Approve") == first
    assert store.activity("approve") is None  # names are case-sensitive, as AWS's
    store.close()


def test_activities_list_by_name_and_delete(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    for name in ("b", "a", "c"):
        store.create_activity(name)
    assert [r.name for r in store.activities()] == ["a", "b", "c"]
    assert store.activity_exists("b")
    assert store.delete_activity("b") is True
    assert store.delete_activity("b") is False  # already gone
    assert not store.activity_exists("b")
    assert [r.name for r in store.activities()] == ["a", "c"]
    recreated, new = store.create_activity("b")
    assert new and store.activity("b") == recreated
    store.close()


def test_activities_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sfn.db"
    store = SqliteStore(path)
    created, _ = store.create_activity("Kept")
    store.close()
    reopened = SqliteStore(path)
    assert reopened.activities() == [ActivityRecord("Kept", created.created)]
    reopened.close()


def test_a_version_8_store_gains_activities_and_keeps_its_state_machines(tmp_path: Path) -> None:
    path = tmp_path / "v8.db"
    with sqlite3.connect(path) as old:
        for version in range(1, 9):
            old.executescript(MIGRATIONS[version])
        old.execute("PRAGMA user_version=8")
        old.execute(
            "INSERT INTO definitions (hash, name, definition, created) VALUES ('h', 'M', '{}', 1)"
        )
        old.execute(
            "INSERT INTO state_machines (name, definition_hash, created, updated)"
            " VALUES ('M', 'h', 1, 1)"
        )
    old.close()
    upgraded = SqliteStore(path)
    assert upgraded._db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert [m.name for m in upgraded.state_machines()] == ["M"]
    assert upgraded.activities() == []
    upgraded.create_activity("New")
    assert upgraded.activity_exists("New")
    upgraded.close()
