"""The store's schema: each version's migration, applied in order to any older file.

A file records its version in ``PRAGMA user_version``; opening it runs the migrations it
lacks, each in a transaction of its own.
"""

from __future__ import annotations

SCHEMA_VERSION = 14
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE executions (
        arn TEXT PRIMARY KEY,
        state_machine TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        input TEXT NOT NULL,
        state TEXT NOT NULL,
        reply_to TEXT,
        correlation_id TEXT,
        task_token TEXT UNIQUE,
        start_date TEXT NOT NULL,
        stop_date TEXT,
        UNIQUE (state_machine, name)
    );
    CREATE INDEX executions_status ON executions (status);
    CREATE TABLE history (
        execution_arn TEXT NOT NULL,
        id INTEGER NOT NULL,
        event TEXT NOT NULL,
        PRIMARY KEY (execution_arn, id)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        exchange TEXT NOT NULL,
        routing_key TEXT NOT NULL,
        body BLOB NOT NULL,
        correlation_id TEXT,
        reply_to TEXT,
        created REAL NOT NULL
    );
    """,
    # Several tasks and timers per execution (Parallel, Map, Wait, Retry, timeouts).
    2: """
    CREATE TABLE tasks (
        token TEXT PRIMARY KEY,
        execution_arn TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX tasks_execution ON tasks (execution_arn);
    INSERT INTO tasks (token, execution_arn)
        SELECT task_token, arn FROM executions WHERE task_token IS NOT NULL;
    CREATE TABLE timers (
        id TEXT PRIMARY KEY,
        execution_arn TEXT NOT NULL,
        due REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX timers_due ON timers (due);
    """,
    # Each execution keeps the definition it started with, whatever the folder holds later.
    3: """
    CREATE TABLE definitions (
        hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        created REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE state_machines (
        name TEXT PRIMARY KEY,
        definition_hash TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE executions ADD COLUMN definition_hash TEXT;
    """,
    # State machines created through the API: type and role; tags on any resource.
    4: """
    ALTER TABLE state_machines ADD COLUMN type TEXT NOT NULL DEFAULT 'STANDARD';
    ALTER TABLE state_machines ADD COLUMN role_arn TEXT;
    CREATE TABLE tags (
        resource_arn TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (resource_arn, key)
    ) WITHOUT ROWID;
    CREATE INDEX executions_machine ON executions (state_machine, start_date);
    """,
    # History is appended in commit order and found through a small index on an integer key,
    # instead of kept in a WITHOUT ROWID tree on the ARN: that tree took each insert into a
    # random page and copied whole events into its interior pages (6.8 pages written to the
    # WAL per call-center step; now 4.3 with the index). Executions therefore get an
    # explicit integer key, which a VACUUM keeps, and lose the task_token column and its
    # index, unused since version 2.
    5: """
    CREATE TABLE executions_v5 (
        id INTEGER PRIMARY KEY,
        arn TEXT NOT NULL UNIQUE,
        state_machine TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        input TEXT NOT NULL,
        state TEXT NOT NULL,
        reply_to TEXT,
        correlation_id TEXT,
        start_date TEXT NOT NULL,
        stop_date TEXT,
        definition_hash TEXT,
        UNIQUE (state_machine, name)
    );
    INSERT INTO executions_v5 (id, arn, state_machine, name, status, input, state, reply_to,
            correlation_id, start_date, stop_date, definition_hash)
        SELECT rowid, arn, state_machine, name, status, input, state, reply_to,
            correlation_id, start_date, stop_date, definition_hash
        FROM executions ORDER BY rowid;
    CREATE TABLE history_v5 (
        execution INTEGER NOT NULL,
        id INTEGER NOT NULL,
        event TEXT NOT NULL
    );
    INSERT INTO history_v5 (execution, id, event)
        SELECT e.id, h.id, h.event FROM history h JOIN executions_v5 e ON e.arn = h.execution_arn
        ORDER BY e.id, h.id;
    DROP TABLE history;
    DROP TABLE executions;
    ALTER TABLE executions_v5 RENAME TO executions;
    ALTER TABLE history_v5 RENAME TO history;
    CREATE UNIQUE INDEX history_execution ON history (execution, id);
    CREATE INDEX executions_status ON executions (status);
    CREATE INDEX executions_machine ON executions (state_machine, start_date);
    """,
    # A start repeated (same name and input) by another client while the execution runs:
    # that client is answered too when it ends.
    6: """
    CREATE TABLE waiters (
        execution INTEGER NOT NULL,
        reply_to TEXT NOT NULL,
        correlation_id TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (execution, reply_to, correlation_id)
    ) WITHOUT ROWID;
    """,
    # A large state (an inline Map, a wide Parallel) is kept in rows, a step writing only
    # those it changed (see state_rows); layout 0: the whole state in ``state``, 1: split.
    7: """
    ALTER TABLE executions ADD COLUMN layout INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE parts (
        execution INTEGER NOT NULL,
        part TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (execution, part)
    ) WITHOUT ROWID;
    """,
    # Functions with tasks waiting and no worker, as the service last saw them (describe
    # tells a user whose execution waits on one).
    8: """
    CREATE TABLE unserved (
        function TEXT PRIMARY KEY,
        since REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # Activities created through the API (their tags are in ``tags``, by ARN, as a state
    # machine's are; the ARN is built from the name, as a state machine's is).
    9: """
    CREATE TABLE activities (
        name TEXT PRIMARY KEY,
        created REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # The console pages through executions newest first, over all machines or by status:
    # without these, each page sorted the whole table.
    10: """
    CREATE INDEX executions_started ON executions (start_date, id);
    CREATE INDEX executions_status_started ON executions (status, start_date, id);
    """,
    # State machine versions (a definition fixed under a number) and aliases (one or two
    # versions with weights); an execution started through one keeps its ARNs.
    11: """
    CREATE TABLE versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition_hash TEXT NOT NULL,
        type TEXT NOT NULL,
        role_arn TEXT,
        description TEXT,
        created REAL NOT NULL,
        PRIMARY KEY (name, version)
    ) WITHOUT ROWID;
    CREATE TABLE version_counters (
        name TEXT PRIMARY KEY,
        last INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        description TEXT,
        routing TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL,
        PRIMARY KEY (name, alias)
    ) WITHOUT ROWID;
    ALTER TABLE executions ADD COLUMN version INTEGER;
    ALTER TABLE executions ADD COLUMN alias TEXT;
    """,
    # Distributed Map runs, and the Map Run each child execution belongs to.
    12: """
    CREATE TABLE map_runs (
        arn TEXT PRIMARY KEY,
        execution_arn TEXT NOT NULL,
        status TEXT NOT NULL,
        start_date TEXT NOT NULL,
        stop_date TEXT,
        error TEXT,
        cause TEXT,
        max_concurrency INTEGER NOT NULL,
        tolerated_count INTEGER NOT NULL,
        tolerated_percentage REAL NOT NULL,
        redrive_count INTEGER NOT NULL DEFAULT 0,
        redrive_date TEXT
    ) WITHOUT ROWID;
    CREATE INDEX map_runs_execution ON map_runs (execution_arn, start_date);
    ALTER TABLE executions ADD COLUMN map_run TEXT;
    CREATE INDEX executions_map_run ON executions (map_run, status);
    """,
    # Each commit bumps an execution's revision: with a store that several orchestrators
    # share, a step read before another's commit is refused instead of overwriting it.
    13: """
    ALTER TABLE executions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    """,
    # Asynchronous EXPRESS starts, kept from start to end (steps run in memory): a crash
    # runs them again (store/express/starts.py).
    14: """
    CREATE TABLE express_starts (
        arn TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        holder TEXT NOT NULL,
        claimed REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX express_starts_claimed ON express_starts (claimed);
    """,
}
