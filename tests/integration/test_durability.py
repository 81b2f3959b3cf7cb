"""Durability on the real broker with real processes: kill -9, dropped connections, restarts.

Outcomes are read from the orchestrator's store (the source of truth): every execution
exactly once, finished, and no task result applied twice. The crash tests run on both
stores: the SQLite file and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import psycopg
import pytest

from broker import REASON_HEADER, Topology
from tests.integration.amqp import purge_topology
from tests.processes import WORKER_NAMES, Service, peak_rss_mb, start, start_orchestrator

pytestmark = pytest.mark.integration
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def publish_cases(url: str, names: list[str], machine: str | None = None, data: Any = None) -> None:
    async def go() -> None:
        connection = await aio_pika.connect(url)
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue("intake")
        headers: dict[str, Any] = {}
        if machine:
            headers["state-machine"] = machine
        for i, name in enumerate(names):
            body = json.dumps(data if data is not None else {"inputCaseID": f"{i:05d}"}).encode()
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    headers={**headers, "execution-name": name},
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="intake",
            )
        await connection.close()

    asyncio.run(go())


Store = Path | str  # a SQLite file, or a PostgreSQL URL


def query(db: Store, sql: str, *params: Any) -> list[Any]:
    """Rows of ``sql`` (with ``?`` parameters) read from either store."""
    if isinstance(db, str):
        with psycopg.connect(db) as server:
            return server.execute(sql.replace("?", "%s"), params).fetchall()
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute(sql, params).fetchall()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The store a crash test runs on: each runs on both."""
    if request.param == "sqlite":
        return tmp_path / "sfn.db"
    return str(request.getfixturevalue("postgres_url"))


def statuses(db: Store, prefix: str) -> dict[str, str]:
    rows = query(db, "SELECT name, status FROM executions WHERE name LIKE ?", prefix + "%")
    return dict(rows)


def wait_finished(db: Store, prefix: str, count: int, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    found: dict[str, str] = {}
    while time.monotonic() < deadline:
        found = statuses(db, prefix)
        if len(found) == count and "RUNNING" not in found.values():
            return found
        time.sleep(0.25)
    running = sum(1 for s in found.values() if s == "RUNNING")
    raise AssertionError(
        f"{len(found)}/{count} executions, {running} still running after {timeout}s"
    )


def histories(db: Store, prefix: str) -> dict[str, list[str]]:
    rows = query(
        db,
        "SELECT e.name, h.event FROM history h JOIN executions e ON e.id = h.execution"
        " WHERE e.name LIKE ? ORDER BY e.name, h.id",
        prefix + "%",
    )
    found: dict[str, list[str]] = {}
    for name, event in rows:
        found.setdefault(name, []).append(json.loads(event)["type"])
    return found


def assert_each_task_applied_once(events: dict[str, list[str]]) -> None:
    for name, types in events.items():
        scheduled = types.count("LambdaFunctionScheduled")
        done = types.count("LambdaFunctionSucceeded") + types.count("LambdaFunctionFailed")
        assert scheduled == done, f"{name}: {scheduled} scheduled, {done} results applied"
        assert types.count("TaskStateEntered") == types.count("TaskStateExited"), name
        assert types[-1] in {"ExecutionSucceeded", "ExecutionFailed"}, name


@pytest.fixture
def env(subprocess_env: dict[str, str], amqp_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    asyncio.run(_purge(amqp_url))
    # The crash guard's files in the test's folder, whichever store (with PostgreSQL they
    # are the replica's own, by default in the working directory).
    yield {**subprocess_env, "SFN_GUARD_FILE": str(tmp_path / "sfn-guard")}


async def _purge(url: str) -> None:
    connection = await aio_pika.connect(url)
    await purge_topology(await connection.channel())
    await connection.close()


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()


def start_workers(env: dict[str, str], tmp: Path, services: list[Service]) -> None:
    for worker in WORKER_NAMES:
        services.append(start(f"worker-{worker}-{time.time_ns()}", ["workers", worker], env, tmp))


def test_kill_9_the_orchestrator_with_200_in_flight(
    env: dict[str, str], amqp_url: str, tmp_path: Path, services: list[Service], db: Store
) -> None:
    orchestrator = start_orchestrator(env, tmp_path, db)
    services.append(orchestrator)
    start_workers(env, tmp_path, services)
    prefix = f"crash-{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{i:03d}" for i in range(200)]
    publish_cases(amqp_url, names)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # kill it in the middle of the work
        found = statuses(db, prefix)
        if len(found) >= 50:
            break
        time.sleep(0.05)
    orchestrator.process.send_signal(signal.SIGKILL)
    orchestrator.process.wait()
    in_flight = sum(1 for s in statuses(db, prefix).values() if s == "RUNNING")
    restarted = start_orchestrator(env, tmp_path, db, name="orchestrator-2")
    services.append(restarted)
    finished = wait_finished(db, prefix, 200, timeout=120)
    assert set(finished) == set(names), "each execution exactly once in the store"
    assert set(finished.values()) <= {"SUCCEEDED", "FAILED"}
    assert in_flight > 0, "the kill happened with executions in flight"
    assert_each_task_applied_once(histories(db, prefix))


def test_kill_9_a_worker_mid_task(
    env: dict[str, str], amqp_url: str, tmp_path: Path, services: list[Service], db: Store
) -> None:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "Slow.asl.json").write_text(
        json.dumps(
            {
                "StartAt": "T",
                "States": {"T": {"Type": "Task", "Resource": LAMBDA + "SlowFunction", "End": True}},
            }
        )
    )
    services.append(start_orchestrator(env, tmp_path, db, definitions))
    asyncio.run(_purge_queue(amqp_url, "lambda.SlowFunction"))
    first = start(
        "slow-1", ["workers", "SlowFunction", "--import", "tests.fixtures.functions"], env, tmp_path
    )
    services.append(first)
    first.wait_for("started ")
    name = f"slow-{uuid.uuid4().hex[:6]}"
    publish_cases(amqp_url, [name], machine="Slow", data={"seconds": 3})
    time.sleep(1.5)  # the worker is inside its 3 s task
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    assert statuses(db, name) == {name: "RUNNING"}
    second = start(
        "slow-2", ["workers", "SlowFunction", "--import", "tests.fixtures.functions"], env, tmp_path
    )
    services.append(second)
    assert wait_finished(db, name, 1, timeout=30) == {name: "SUCCEEDED"}
    assert_each_task_applied_once(histories(db, name))


async def _purge_queue(url: str, queue: str) -> None:
    connection = await aio_pika.connect(url)
    await (await Topology(await connection.channel()).work_queue(queue)).purge()
    await connection.close()


@pytest.mark.skipif(
    shutil.which("rabbitmqctl") is None and not os.environ.get("CI"),
    reason="needs rabbitmqctl to drop connections",
)
def test_dropped_connections_during_a_run(
    env: dict[str, str], amqp_url: str, tmp_path: Path, services: list[Service], db: Store
) -> None:
    services.append(start_orchestrator(env, tmp_path, db))
    start_workers(env, tmp_path, services)
    prefix = f"drop-{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{i:03d}" for i in range(100)]
    publish_cases(amqp_url, names[:50])
    time.sleep(0.3)
    dropped = subprocess.run(
        ["rabbitmqctl", "close_all_connections", "test: dropping every connection"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dropped.returncode == 0, dropped.stderr
    publish_cases(amqp_url, names[50:])
    finished = wait_finished(db, prefix, 100, timeout=120)
    assert set(finished) == set(names)
    assert_each_task_applied_once(histories(db, prefix))
    assert all(s.process.poll() is None for s in services), "every process reconnected and runs on"


def test_wait_and_retry_backoff_span_an_orchestrator_restart(
    env: dict[str, str], amqp_url: str, tmp_path: Path, services: list[Service], db: Store
) -> None:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "Waiting.asl.json").write_text(
        json.dumps(
            {
                "StartAt": "W",
                "States": {
                    "W": {"Type": "Wait", "Seconds": 4, "Next": "P"},
                    "P": {"Type": "Pass", "End": True},
                },
            }
        )
    )
    retry = {"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 1.0, "MaxAttempts": 3}
    (definitions / "Retrying.asl.json").write_text(
        json.dumps(
            {
                "StartAt": "T",
                "States": {
                    "T": {
                        "Type": "Task",
                        "Resource": LAMBDA + "FlakyFunction",
                        "Retry": [retry],
                        "End": True,
                    }
                },
            }
        )
    )
    orchestrator = start_orchestrator(env, tmp_path, db, definitions)
    services.append(orchestrator)
    asyncio.run(_purge_queue(amqp_url, "lambda.FlakyFunction"))
    services.append(
        start(
            "flaky",
            ["workers", "FlakyFunction", "--import", "tests.fixtures.functions"],
            env,
            tmp_path,
        )
    )
    wait_name, retry_name = f"wait-{uuid.uuid4().hex[:6]}", f"retry-{uuid.uuid4().hex[:6]}"
    publish_cases(amqp_url, [wait_name], machine="Waiting", data={})
    publish_cases(amqp_url, [retry_name], machine="Retrying", data={})
    time.sleep(1.0)
    orchestrator.process.send_signal(signal.SIGKILL)
    orchestrator.process.wait()
    killed = time.monotonic()
    time.sleep(1.5)  # down while the timers run
    services.append(start_orchestrator(env, tmp_path, db, definitions, name="orchestrator-2"))
    # A timer due while the service was down fires once it is back (its start takes a
    # second or two on a busy machine): the execution is late by that much, no more.
    down = time.monotonic() - killed
    assert wait_finished(db, wait_name, 1, timeout=30) == {wait_name: "SUCCEEDED"}
    assert wait_finished(db, retry_name, 1, timeout=30) == {retry_name: "SUCCEEDED"}
    rows = dict(
        query(db, "SELECT name, state FROM executions WHERE name IN (?, ?)", wait_name, retry_name)
    )
    for name, expected in ((wait_name, 4.0), (retry_name, 4.0)):
        state = json.loads(rows[name])
        took = (_when(state["stop_time"]) - _when(state["start_time"])).total_seconds()
        assert expected - 0.2 <= took <= expected + down + 1.0, (
            f"{name} took {took:.2f}s, expected about {expected}s (down {down:.2f}s)"
        )


def _when(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_malformed_and_oversized_messages_on_every_queue_are_dead_lettered(
    env: dict[str, str], amqp_url: str, tmp_path: Path, services: list[Service]
) -> None:
    services.append(start_orchestrator(env, tmp_path, tmp_path / "sfn.db"))
    worker = start("worker-open", ["workers", "open"], env, tmp_path)
    services.append(worker)
    worker.wait_for("started ")
    huge = b'{"x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    big_input = json.dumps({"inputCaseID": "a" * 300_000}).encode()
    cases = {
        "intake": [
            (b"{nope", "not JSON"),
            (huge, "exceeds the limit"),
            (big_input, "InvalidExecutionInput"),
        ],
        "orchestrator.task-results": [(b"[]", "invalid message"), (huge, "exceeds the limit")],
        "orchestrator.control": [
            (b'{"kind": "STOP_EXECUTION"}', "name the execution"),
            (huge, "exceeds the limit"),
        ],
        "lambda.OpenCaseFunction": [(b"garbage", "not JSON"), (huge, "exceeds the limit")],
    }
    reasons = asyncio.run(_dead_letter_each(amqp_url, cases))
    for queue, expected in cases.items():
        got = reasons[queue]
        assert len(got) == len(expected), (queue, got)
        for (_, fragment), reason in zip(expected, got, strict=True):
            assert fragment in reason, (queue, fragment, reason)
    assert all(s.process.poll() is None for s in services), "the services keep running"


async def _dead_letter_each(
    url: str, cases: dict[str, list[tuple[bytes, str]]]
) -> dict[str, list[str]]:
    connection = await aio_pika.connect(url)
    channel = await connection.channel(publisher_confirms=True)
    topology = Topology(channel)
    reasons: dict[str, list[str]] = {}
    for queue, messages in cases.items():
        await topology.work_queue(queue)
        dead = await channel.get_queue(queue + ".dead-letter")
        await dead.purge()
        for body, _ in messages:
            await channel.default_exchange.publish(
                aio_pika.Message(body, reply_to="nowhere"), routing_key=queue
            )
            deadline = asyncio.get_running_loop().time() + 20
            while (got := await dead.get(no_ack=True, fail=False)) is None:
                assert asyncio.get_running_loop().time() < deadline, (
                    f"nothing dead-lettered on {queue}"
                )
                await asyncio.sleep(0.05)
            reasons.setdefault(queue, []).append(str((got.headers or {}).get(REASON_HEADER)))
    await connection.close()
    return reasons


def test_ten_thousand_open_executions_finish_with_bounded_memory(
    env: dict[str, str], amqp_url: str, tmp_path: Path, services: list[Service]
) -> None:
    """Workers stopped, 10,000 cases started; then the workers start and drain them all."""
    count = int(os.environ.get("SFN_TEST_OPEN_EXECUTIONS", "10000"))
    db = tmp_path / "sfn.db"
    orchestrator = start_orchestrator(env, tmp_path, db)
    services.append(orchestrator)
    prefix = f"open-{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{i:05d}" for i in range(count)]
    publish_cases(amqp_url, names)
    deadline = time.monotonic() + 300
    while len(statuses(db, prefix)) < count:
        assert time.monotonic() < deadline, "not every execution started"
        time.sleep(0.5)
    assert set(statuses(db, prefix).values()) == {"RUNNING"}, "held open: no worker runs yet"
    start_workers(env, tmp_path, services)
    finished = wait_finished(db, prefix, count, timeout=1200)
    assert set(finished.values()) <= {"SUCCEEDED", "FAILED"}
    peak = peak_rss_mb(orchestrator.process.pid)
    print(f"\n{count} open executions: orchestrator peak RSS {peak:.0f} MiB")
    assert peak < 300, f"orchestrator peak RSS {peak:.0f} MiB"
