"""Several orchestrators on one PostgreSQL and one broker, as real processes.

Each execution is stepped by one replica at a time (its row is locked for the batch), so
with replicas consuming the same queues, killed with kill -9 or joining under load, every
execution ends exactly once with each task result applied once; timers fire once; the API
answers from any replica, and starts stay idempotent by name across them.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config

from tests.integration.test_durability import (
    _purge,
    assert_each_task_applied_once,
    publish_cases,
    start_workers,
)
from tests.processes import Service, start_orchestrator

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/replicas"
FINISHED = re.compile(r"execution \S+ of \S+ (SUCCEEDED|FAILED)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_replica(env: dict[str, str], tmp: Path, db: str, name: str, port: int = 0) -> Service:
    """One orchestrator on the shared database, with its own crash guard files."""
    own = {**env, "SFN_GUARD_FILE": str(tmp / f"{name}.guard")}
    return start_orchestrator(own, tmp, db, name=name, api_port=port)


def rows(db: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as connection:
        return connection.execute(query, params).fetchall()


def statuses(db: str, prefix: str) -> dict[str, str]:
    found = rows(db, "SELECT name, status FROM executions WHERE name LIKE %s", prefix + "%")
    return dict(found)


def histories(db: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for name, event in rows(
        db,
        "SELECT e.name, h.event FROM history h JOIN executions e ON e.id = h.execution"
        " WHERE e.name LIKE %s ORDER BY e.name, h.id",
        prefix + "%",
    ):
        found.setdefault(name, []).append(json.loads(event))
    return found


def finished_by(service: Service) -> int:
    """How many executions this replica ended (it logs each end)."""
    return len(FINISHED.findall(service.output()))


@pytest.fixture
def env(subprocess_env: dict[str, str], amqp_url: str) -> Iterator[dict[str, str]]:
    asyncio.run(_purge(amqp_url))
    yield subprocess_env


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()


def test_a_replica_killed_under_load_and_one_joining_lose_and_double_nothing(
    env: dict[str, str], amqp_url: str, postgres_url: str, tmp_path: Path, services: list[Service]
) -> None:
    first = start_replica(env, tmp_path, postgres_url, "replica-1")
    second = start_replica(env, tmp_path, postgres_url, "replica-2")
    services += [first, second]
    start_workers(env, tmp_path, services)
    prefix = f"rep-{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{i:04d}" for i in range(1200)]
    publish_cases(amqp_url, names)

    def wait_for(ended: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = statuses(postgres_url, prefix).values()
            if sum(1 for s in found if s != "RUNNING") >= ended:
                return
            time.sleep(0.05)

    wait_for(20)
    third = start_replica(env, tmp_path, postgres_url, "replica-3")  # joins under load
    services.append(third)
    wait_for(600)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    killed_at = time.monotonic()
    in_flight = {n for n, s in statuses(postgres_url, prefix).items() if s == "RUNNING"}

    deadline = time.monotonic() + 120
    done: dict[str, str] = {}
    resumed_in: float | None = None
    while time.monotonic() < deadline:
        done = statuses(postgres_url, prefix)
        if resumed_in is None and all(done[n] != "RUNNING" for n in in_flight):
            resumed_in = time.monotonic() - killed_at
        if len(done) == len(names) and "RUNNING" not in done.values():
            break
        time.sleep(0.2)
    assert set(done) == set(names), "each execution exactly once in the store"
    assert set(done.values()) <= {"SUCCEEDED", "FAILED"}, "every execution ended"
    assert in_flight, "the kill happened with executions in flight"
    assert resumed_in is not None and resumed_in < 30, (
        f"the killed replica's executions ended {resumed_in} s after the kill"
    )
    events = histories(postgres_url, prefix)
    assert_each_task_applied_once({n: [e["type"] for e in h] for n, h in events.items()})
    for name, history in events.items():  # no step applied twice: ids run 1..n
        assert [e["id"] for e in history] == list(range(1, len(history) + 1)), name
    # Each replica took a share: the one that joined too, the killed one before it died.
    assert finished_by(first) > 0
    assert finished_by(second) > 0
    assert finished_by(third) > 0, "the replica that joined took part of the work"


def client(port: int) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
        config=Config(retries={"max_attempts": 1}),
    )


def test_any_replica_answers_timers_fire_once_and_starts_stay_idempotent(
    env: dict[str, str], postgres_url: str, tmp_path: Path, services: list[Service]
) -> None:
    ports = [free_port() for _ in range(3)]
    for i, port in enumerate(ports):
        services.append(start_replica(env, tmp_path, postgres_url, f"api-{i}", port))
    apis = [client(port) for port in ports]
    waiting = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": "waited", "End": True},
        },
    }
    name = f"Replicated{uuid.uuid4().hex[:8]}"
    arn = apis[0].create_state_machine(name=name, definition=json.dumps(waiting), roleArn=ROLE)[
        "stateMachineArn"
    ]
    # Created through one replica, seen and started through the others at once.
    assert apis[2].describe_state_machine(stateMachineArn=arn)["name"] == name
    started = [
        apis[i % 3].start_execution(stateMachineArn=arn, name=f"w{i}", input="{}")
        for i in range(30)
    ]
    # The same start through every replica at once: one execution, one ARN.
    with ThreadPoolExecutor(12) as pool:
        again = list(
            pool.map(
                lambda i: apis[i % 3].start_execution(
                    stateMachineArn=arn, name="same", input='{"a": 1}'
                )["executionArn"],
                range(24),
            )
        )
    assert len(set(again)) == 1
    assert rows(postgres_url, "SELECT count(*) FROM executions WHERE name='same'") == [(1,)]
    deadline = time.monotonic() + 30
    arns = [s["executionArn"] for s in started] + [again[0]]
    while time.monotonic() < deadline:
        described = [apis[j % 3].describe_execution(executionArn=a) for j, a in enumerate(arns)]
        if all(d["status"] == "SUCCEEDED" for d in described):
            break
        time.sleep(0.2)
    assert [d["status"] for d in described] == ["SUCCEEDED"] * len(arns)
    for j, execution in enumerate(arns):  # every replica's timer loop saw it; one fired it
        history = apis[(j + 1) % 3].get_execution_history(executionArn=execution)["events"]
        types = [e["type"] for e in history]
        assert types.count("WaitStateExited") == 1, types
        assert types[-1] == "ExecutionSucceeded"
    # Updated through one replica, deleted through another: the third sees both.
    changed = {
        **waiting,
        "States": {**waiting["States"], "Wait": {**waiting["States"]["Wait"], "Seconds": 0}},
    }
    apis[1].update_state_machine(stateMachineArn=arn, definition=json.dumps(changed))
    assert json.loads(apis[2].describe_state_machine(stateMachineArn=arn)["definition"]) == changed
    apis[0].delete_state_machine(stateMachineArn=arn)
    with pytest.raises(apis[2].exceptions.StateMachineDoesNotExist):
        apis[2].start_execution(stateMachineArn=arn, name="after-delete")


def test_connections_to_postgresql_cut_mid_run_lose_and_double_nothing(
    env: dict[str, str], amqp_url: str, postgres_url: str, tmp_path: Path, services: list[Service]
) -> None:
    """The server ends the replica's connections twice under load (a failover, a restart):
    it reconnects and retries the batch; every execution ends once."""
    replica = start_replica(env, tmp_path, postgres_url, "replica")
    services.append(replica)
    start_workers(env, tmp_path, services)
    prefix = f"cut-{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{i:03d}" for i in range(300)]
    publish_cases(amqp_url, names)
    database = postgres_url.rsplit("/", 1)[1]
    for ended in (30, 150):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = statuses(postgres_url, prefix).values()
            if sum(1 for s in found if s != "RUNNING") >= ended:
                break
            time.sleep(0.05)
        cut = rows(
            postgres_url.rsplit("/", 1)[0] + "/postgres",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            database,
        )
        assert cut, "the replica's connection was there to cut"
    deadline = time.monotonic() + 90
    done: dict[str, str] = {}
    while time.monotonic() < deadline:
        done = statuses(postgres_url, prefix)
        if len(done) == len(names) and "RUNNING" not in done.values():
            break
        time.sleep(0.2)
    assert set(done) == set(names)
    assert set(done.values()) <= {"SUCCEEDED", "FAILED"}
    events = histories(postgres_url, prefix)
    assert_each_task_applied_once({n: [e["type"] for e in h] for n, h in events.items()})
    assert "committing to the store works again" in replica.output()
    assert replica.process.poll() is None, "the replica runs on"
