"""The PostgreSQL store's own rules, on a real server: what several replicas rely on.

Two store objects on one database stand for two orchestrator replicas: a row one of them
holds in its batch is busy for the other (never waited on), a step read before another's
commit is refused, the outbox sweep gives each row to one of them, and the schema is
migrated once. The engine's behaviour on this store is tested with SQLite's in test_engine.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

import messages
from orchestrator.definitions import load_definitions
from orchestrator.engine import Engine
from orchestrator.store import ExecutionBusy, OutboxMessage, StoreError
from orchestrator.store.postgres.changes import ChangeListener, notification_payloads
from orchestrator.store.postgres.dialect import translate
from orchestrator.store.postgres.schema import PG_SCHEMA_VERSION
from orchestrator.store.postgres.store import PostgresStore

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"


def start(engine: Engine, name: str) -> list[int]:
    request = messages.IntakeRequest(
        state_machine="CallCenterStateMachine", execution_name=name, input={"inputCaseID": "1"}
    )
    return engine.start(request)


def first_token(store: PostgresStore, ids: list[int]) -> str:
    rows = store.outbox_messages(ids)
    request = next(r for r in rows if r.routing_key.startswith("lambda."))
    return messages.TaskRequest.from_wire(request.body).task_token


def succeeded(token: str) -> messages.TaskSucceeded:
    return messages.TaskSucceeded(task_token=token, attempt=0, output={"Status": 1})


def test_the_translation_of_the_embedded_stores_statements() -> None:
    assert translate("SELECT a FROM t WHERE b=? AND c=?") == (
        "SELECT a FROM t WHERE b=%s AND c=%s",
        False,
    )
    assert translate("INSERT OR IGNORE INTO waiters (execution) VALUES (?)")[0].endswith(
        "ON CONFLICT DO NOTHING"
    )
    upsert, _ = translate("INSERT OR REPLACE INTO timers (id, execution_arn, due) VALUES (?,?,?)")
    assert upsert.endswith(
        "ON CONFLICT (id) DO UPDATE SET execution_arn=EXCLUDED.execution_arn, due=EXCLUDED.due"
    )
    assert translate("INSERT INTO outbox (exchange) VALUES (?)") == (
        "INSERT INTO outbox (exchange) VALUES (%s) RETURNING id",
        True,
    )
    assert (
        "COALESCE(((state::jsonb)->>'redrive_count')::numeric, 0)"
        in translate("SELECT 1 WHERE IFNULL(json_extract(state, '$.redrive_count'), 0) > 0")[0]
    )


def test_a_row_held_by_one_replica_is_busy_for_the_other(postgres_url: str) -> None:
    one, two = PostgresStore(postgres_url), PostgresStore(postgres_url)
    first = Engine(load_definitions(DEFINITIONS), one, status_events=False)
    second = Engine(load_definitions(DEFINITIONS), two, status_events=False)
    token = first_token(one, start(first, "held"))
    with one.batch():
        assert one.execution_by_token(token) is not None  # locked until this batch commits
        with two.batch(), pytest.raises(ExecutionBusy):
            second.apply(succeeded(token))
    with two.batch():  # the first batch committed: the lock is gone
        assert second.apply(succeeded(token))
    one.close()
    two.close()


def test_a_step_read_before_another_replicas_commit_is_refused(postgres_url: str) -> None:
    one, two = PostgresStore(postgres_url), PostgresStore(postgres_url)
    first = Engine(load_definitions(DEFINITIONS), one, status_events=False)
    second = Engine(load_definitions(DEFINITIONS), two, status_events=False)
    ids = start(first, "raced")
    arn = one.outbox_messages(ids)[0]
    token = first_token(one, ids)
    stale = two.execution_by_token(token)  # read outside a batch: no lock
    assert stale is not None
    assert first.apply(succeeded(token))  # the other replica steps it meanwhile
    with pytest.raises(ExecutionBusy):  # the stale read's step would overwrite that one
        second._step(stale, first_event(token))
    history = [e["type"] for e in one.history(stale.state.execution_arn)]
    assert history.count("LambdaFunctionSucceeded") == 1, (arn, history)
    one.close()
    two.close()


def first_event(token: str) -> object:
    from datetime import UTC, datetime

    from orchestrator.task_messages import task_event

    return task_event(succeeded(token), datetime.now(UTC))


def test_each_left_over_outbox_row_is_swept_by_one_replica(postgres_url: str) -> None:
    one, two = PostgresStore(postgres_url), PostgresStore(postgres_url)
    rows = [OutboxMessage("", f"q{i}", b"{}") for i in range(40)]
    one.enqueue(rows, created=0.0)  # long ago: left behind by a replica that died
    taken_by_one = one.claim_outbox(older_than=1e12)
    taken_by_two = two.claim_outbox(older_than=1e12)
    assert len(taken_by_one) == 40 and taken_by_two == [], "claimed rows are not swept twice"
    fresh = one.enqueue([OutboxMessage("", "new", b"{}")], created=9e99)
    assert fresh[0] not in {r.id for r in two.claim_outbox(older_than=1e100)}, (
        "a row its replica is sending now is left to it"
    )
    one.close()
    two.close()


def test_the_schema_is_made_once_by_replicas_opening_together(postgres_url: str) -> None:
    opened: list[PostgresStore] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PostgresStore(postgres_url))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(opened) == 4
    with psycopg.connect(postgres_url) as connection:
        rows = connection.execute("SELECT version FROM sfn_schema").fetchall()
    assert rows == [(PG_SCHEMA_VERSION,)]
    for store in opened:
        store.close()


def test_a_newer_schema_or_no_server_is_refused_saying_so(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("UPDATE sfn_schema SET version = version + 1")
    with pytest.raises(StoreError, match="newer than this program's"):
        PostgresStore(postgres_url)
    with pytest.raises(StoreError, match="cannot connect to the execution store at"):
        PostgresStore("postgresql://nobody:secret@127.0.0.1:1/none")


def test_text_holding_nul_is_stored_not_refused(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    store.set_tags("arn:aws:states:us-east-1:123456789012:activity:a", {"key": "a\x00b"})
    assert store.tags("arn:aws:states:us-east-1:123456789012:activity:a") == {"key": "a\\u0000b"}
    store.close()


def test_each_commit_tells_every_replicas_console_what_changed(postgres_url: str) -> None:
    """Another replica's listener hears the executions a batch stepped, once it commits."""
    heard: list[str] = []
    arrived = threading.Event()

    def notify(arn: str) -> None:
        heard.append(arn)
        arrived.set()

    listener = ChangeListener(postgres_url, notify)
    listener.start()
    store = PostgresStore(postgres_url)
    engine = Engine(load_definitions(DEFINITIONS), store, status_events=False)
    try:
        deadline = time.monotonic() + 10
        while not arrived.is_set() and time.monotonic() < deadline:  # until it listens
            with store.batch():
                ids = start(engine, f"told-{len(heard)}-{time.monotonic_ns()}")
            arrived.wait(0.2)
        assert heard, "the listener heard the commit"
        arn = store.outbox_messages(ids)[0]
        assert any(":execution:CallCenterStateMachine:told-" in a for a in heard), (arn, heard)
        heard.clear()
        arrived.clear()
        with pytest.raises(RuntimeError), store.batch():  # rolled back: nothing is told
            start(engine, "never")
            raise RuntimeError("the batch fails")
        assert not arrived.wait(1.0), heard
    finally:
        listener.stop()
        store.close()


def test_a_batchs_arns_fit_postgresqls_payload_limit() -> None:
    arns = [f"arn:aws:states:us-east-1:123456789012:execution:M:{i:05d}" for i in range(500)]
    payloads = list(notification_payloads(arns))
    assert len(payloads) > 1 and all(len(p.encode()) < 8000 for p in payloads)
    assert sorted(a for p in payloads for a in p.split("\n")) == sorted(arns)
