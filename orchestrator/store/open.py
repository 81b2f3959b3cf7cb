"""Opening the execution store a location names: a SQLite file or a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path

from orchestrator.store.postgres.store import PostgresStore, is_server_url
from orchestrator.store.sqlite import SqliteStore


def open_store(location: str | Path, *, service: bool = False) -> SqliteStore:
    """The store at ``location``: ``postgresql://...`` (shared by replicas) or a file path.

    ``service``: the long-running service opens it (SQLite then checkpoints in the
    background). Raises :class:`~orchestrator.store.StoreError`, saying why, when it
    cannot be used.
    """
    if is_server_url(location):
        return PostgresStore(str(location))
    return SqliteStore(location, checkpoint_in_background=service)


def shared(location: str | Path) -> bool:
    """Whether several orchestrators may use the store at ``location`` at once."""
    return is_server_url(location)
