"""A fresh PostgreSQL database per test on the local server (``SFN_TEST_POSTGRES``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

# The server's maintenance database: where test databases are created and dropped.
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """The PostgreSQL server the tests use."""
    return os.environ.get("SFN_TEST_POSTGRES", DEFAULT_SERVER)


def reachable() -> str | None:
    """None when the server answers; else why not."""
    try:
        with psycopg.connect(server_url(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL at {server_url()} ({str(exc).strip().splitlines()[0]})"


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database, yield its URL, drop it (and its connections) afterwards."""
    name = "sfn_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server_url())
    info["dbname"] = name
    try:
        yield _url(info)
    finally:
        with psycopg.connect(server_url(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _url(info: dict[str, object]) -> str:
    user = info.get("user") or ""
    host = info.get("host") or "127.0.0.1"
    port = info.get("port") or 5432
    return f"postgresql://{user}@{host}:{port}/{info['dbname']}"
