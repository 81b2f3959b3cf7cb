"""The PostgreSQL store's schema: each version's migration, applied in order.

The tables and columns are the SQLite store's (its version 14), so that one set of
statements serves both (:mod:`orchestrator.store.postgres.dialect`). Text compares byte by byte
(``COLLATE "C"``), as SQLite's does, whatever the database's locale: listings sort the
same on both stores. The version lives in ``sfn_schema``; opening a database runs the
migrations it lacks under an advisory lock, so replicas starting together migrate once.
"""

from __future__ import annotations

PG_SCHEMA_VERSION = 1
# A key of the advisory lock that serializes migrations (any constant; "sfn" in ASCII).
MIGRATION_LOCK = 0x73666E
_TEXT = 'TEXT COLLATE "C"'

PG_MIGRATIONS: dict[int, str] = {
    1: f"""
    CREATE TABLE executions (
        id BIGSERIAL PRIMARY KEY,
        arn {_TEXT} NOT NULL UNIQUE,
        state_machine {_TEXT} NOT NULL,
        name {_TEXT} NOT NULL,
        status {_TEXT} NOT NULL,
        input TEXT NOT NULL,
        state TEXT NOT NULL,
        reply_to TEXT,
        correlation_id TEXT,
        start_date {_TEXT} NOT NULL,
        stop_date {_TEXT},
        definition_hash TEXT,
        layout INTEGER NOT NULL DEFAULT 0,
        version INTEGER,
        alias TEXT,
        map_run {_TEXT},
        revision BIGINT NOT NULL DEFAULT 0,
        UNIQUE (state_machine, name)
    );
    CREATE INDEX executions_status ON executions (status);
    CREATE INDEX executions_machine ON executions (state_machine, start_date);
    CREATE INDEX executions_started ON executions (start_date, id);
    CREATE INDEX executions_status_started ON executions (status, start_date, id);
    CREATE INDEX executions_map_run ON executions (map_run, status);
    CREATE TABLE history (
        execution BIGINT NOT NULL,
        id INTEGER NOT NULL,
        event TEXT NOT NULL,
        PRIMARY KEY (execution, id)
    );
    CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        exchange TEXT NOT NULL,
        routing_key TEXT NOT NULL,
        body BYTEA NOT NULL,
        correlation_id TEXT,
        reply_to TEXT,
        created DOUBLE PRECISION NOT NULL,
        -- Set by the orchestrator that took the row to re-publish it (a sweep).
        claimed DOUBLE PRECISION
    );
    CREATE INDEX outbox_created ON outbox (created);
    CREATE TABLE tasks (
        token {_TEXT} PRIMARY KEY,
        execution_arn {_TEXT} NOT NULL
    );
    CREATE INDEX tasks_execution ON tasks (execution_arn);
    CREATE TABLE timers (
        id {_TEXT} PRIMARY KEY,
        execution_arn {_TEXT} NOT NULL,
        due DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX timers_due ON timers (due);
    CREATE TABLE definitions (
        hash {_TEXT} PRIMARY KEY,
        name {_TEXT} NOT NULL,
        definition TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE state_machines (
        name {_TEXT} PRIMARY KEY,
        definition_hash {_TEXT} NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION NOT NULL,
        type TEXT NOT NULL DEFAULT 'STANDARD',
        role_arn TEXT
    );
    CREATE TABLE tags (
        resource_arn {_TEXT} NOT NULL,
        key {_TEXT} NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (resource_arn, key)
    );
    CREATE TABLE waiters (
        execution BIGINT NOT NULL,
        reply_to TEXT NOT NULL,
        correlation_id TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (execution, reply_to, correlation_id)
    );
    CREATE TABLE parts (
        execution BIGINT NOT NULL,
        part {_TEXT} NOT NULL,
        body BYTEA NOT NULL,
        PRIMARY KEY (execution, part)
    );
    CREATE TABLE unserved (
        function {_TEXT} PRIMARY KEY,
        since DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE activities (
        name {_TEXT} PRIMARY KEY,
        created DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE versions (
        name {_TEXT} NOT NULL,
        version INTEGER NOT NULL,
        definition_hash TEXT NOT NULL,
        type TEXT NOT NULL,
        role_arn TEXT,
        description TEXT,
        created DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE version_counters (
        name {_TEXT} PRIMARY KEY,
        last INTEGER NOT NULL
    );
    CREATE TABLE aliases (
        name {_TEXT} NOT NULL,
        alias {_TEXT} NOT NULL,
        description TEXT,
        routing TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION,
        PRIMARY KEY (name, alias)
    );
    CREATE TABLE map_runs (
        arn {_TEXT} PRIMARY KEY,
        execution_arn {_TEXT} NOT NULL,
        status TEXT NOT NULL,
        start_date {_TEXT} NOT NULL,
        stop_date TEXT,
        error TEXT,
        cause TEXT,
        max_concurrency INTEGER NOT NULL,
        tolerated_count INTEGER NOT NULL,
        tolerated_percentage DOUBLE PRECISION NOT NULL,
        redrive_count INTEGER NOT NULL DEFAULT 0,
        redrive_date TEXT
    );
    CREATE INDEX map_runs_execution ON map_runs (execution_arn, start_date);
    CREATE TABLE express_starts (
        arn {_TEXT} PRIMARY KEY,
        record TEXT NOT NULL,
        holder TEXT NOT NULL,
        claimed DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX express_starts_claimed ON express_starts (claimed);
    """,
}
