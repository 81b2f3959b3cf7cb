"""The timer loop on a real store: one bad timer holds no other back, a clock set back holds
no Wait back, a store that fails is waited for, and a timer that killed the process is not
fired again (its execution fails, saying why)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import messages
from orchestrator.asl.loader import load_definition
from orchestrator.engine import Engine
from orchestrator.service.clock import SteadyClock
from orchestrator.service.crash_guard import CrashGuard
from orchestrator.service.timers import fire_timers, timer_key
from orchestrator.store import SqliteStore

WAIT = {
    "StartAt": "W",
    "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
        "P": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "sfn.db")


def engine_on(store: SqliteStore, clock: Callable[[], float] | None = None) -> Engine:
    machine = load_definition(json.dumps(WAIT), name="Waiting")
    steady = SteadyClock(clock) if clock else SteadyClock()
    return Engine({"Waiting": machine}, store, clock=steady.datetime)


def start(engine: Engine, name: str) -> None:
    engine.start(
        messages.IntakeRequest(state_machine="Waiting", execution_name=name, input={"n": name})
    )


def statuses(store: SqliteStore) -> dict[str, str]:
    return {s.execution_name: s.status for s in store.executions()}


async def run_timers(engine: Engine, clock: SteadyClock, seconds: float, **kw: object) -> None:
    stop = asyncio.Event()

    async def publish(ids: list[int]) -> None:
        return None

    loop = asyncio.create_task(fire_timers(engine, publish, stop, clock=clock, **kw))  # type: ignore[arg-type]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(loop, 5)


def test_a_timer_that_fails_does_not_hold_the_others_back(
    store: SqliteStore, tmp_path: Path
) -> None:
    engine = engine_on(store)
    for name in ("broken", "fine-1", "fine-2"):
        start(engine, name)
    # The broken execution's stored state is damaged: once the service opens the file again,
    # firing its timer raises.
    with sqlite3.connect(tmp_path / "sfn.db") as db:
        db.execute("UPDATE executions SET state='{\"broken\":' WHERE name='broken'")
    store.close()
    store = SqliteStore(tmp_path / "sfn.db")
    engine = engine_on(store)
    started = time.monotonic()
    asyncio.run(run_timers(engine, SteadyClock(), 2.0))
    assert time.monotonic() - started < 4
    with sqlite3.connect(tmp_path / "sfn.db") as db:
        rows = db.execute("SELECT execution_arn, due FROM timers").fetchall()
        done = dict(db.execute("SELECT name, status FROM executions WHERE name != 'broken'"))
    assert done == {"fine-1": "SUCCEEDED", "fine-2": "SUCCEEDED"}
    # The broken one's Wait timer was moved on an hour, not retried in a tight loop (its
    # execution's timer, a year away, stays as it was).
    assert {arn.rsplit(":", 1)[1] for arn, _ in rows} == {"broken"}
    [postponed] = [due for _, due in rows if due < time.time() + 86400]
    assert postponed > time.time() + 3000


def test_a_clock_set_back_an_hour_does_not_hold_a_wait_back(store: SqliteStore) -> None:
    offset = [0.0]
    clock = SteadyClock(lambda: time.time() + offset[0])
    engine = engine_on(store, clock.now)
    start(engine, "waiting")
    offset[0] = -3600.0  # the system clock is set back just after the Wait began
    started = time.monotonic()
    asyncio.run(run_timers(engine, clock, 1.8))
    assert statuses(store) == {"waiting": "SUCCEEDED"}
    assert time.monotonic() - started < 3


def test_a_store_that_fails_is_retried_until_it_works(
    store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = engine_on(store)
    start(engine, "waiting")
    # Another connection holds the write lock: the store cannot commit (SQLITE_BUSY after
    # its busy timeout) until it lets go.
    store._db.execute("PRAGMA busy_timeout=50")
    blocker = sqlite3.connect(tmp_path / "sfn.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")

    async def scenario() -> None:
        clock = SteadyClock()
        runner = asyncio.create_task(run_timers(engine, clock, 3.0))
        await asyncio.sleep(2.0)
        assert statuses(store) == {"waiting": "RUNNING"}
        blocker.execute("ROLLBACK")
        await runner

    asyncio.run(scenario())
    assert statuses(store) == {"waiting": "SUCCEEDED"}
    assert any("firing timers" in r.message and "works again" in r.message for r in caplog.records)


def test_a_timer_that_killed_the_process_is_not_fired_again(
    store: SqliteStore, tmp_path: Path
) -> None:
    engine = engine_on(store)
    start(engine, "poison")
    timers = store.executions()[0].timers
    [timer] = [t for t, ref in timers.items() if ref.kind == "wait"]
    # What two processes that died while firing it alone leave behind (one death alone
    # could be a kill -9 that happened to land there: it is fired again).
    (tmp_path / "sfn.db.applying").write_text(json.dumps({"keys": [timer_key(timer)]}))
    CrashGuard(tmp_path / "sfn.db").close()  # the first death: it would be fired again
    (tmp_path / "sfn.db.applying").write_text(json.dumps({"keys": [timer_key(timer)]}))
    guard = CrashGuard(tmp_path / "sfn.db")
    try:
        asyncio.run(run_timers(engine, SteadyClock(), 1.5, guard=guard))
    finally:
        guard.close()
    assert store.due_timers(time.time() + 10) == []
    assert (tmp_path / "sfn.db.applying").read_bytes() == b""
    # Its execution would have waited for it forever: it failed, saying why.
    [state] = store.executions()
    assert (state.status, state.error) == ("FAILED", "States.Runtime")
    assert state.cause is not None and "crashed the orchestrator" in state.cause


def test_a_step_that_spent_its_budget_goes_on_without_waiting_for_the_poll(
    store: SqliteStore,
) -> None:
    # An EXPRESS Map of 3,000 Pass items is more than one step may do: each step leaves a
    # timer due at once for the rest, and the loop must not sleep its poll before it.
    document = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    machine = dataclasses.replace(load_definition(json.dumps(document), name="Big"), type="EXPRESS")
    clock = SteadyClock()
    engine = Engine({"Big": machine}, store, clock=clock.datetime)
    wake = asyncio.Event()
    engine.on_timer = lambda due: wake.set()

    async def scenario() -> float:
        stop = asyncio.Event()

        async def publish(ids: list[int]) -> None:
            return None

        loop = asyncio.create_task(
            fire_timers(engine, publish, stop, clock=clock, poll=5.0, wake=wake)
        )
        await asyncio.sleep(0.3)  # the loop found nothing due and sleeps its 5 s poll
        started = time.monotonic()
        engine.start(  # as the intake consumer would, while the loop sleeps
            messages.IntakeRequest(
                state_machine="Big", execution_name="big", input={"items": list(range(3000))}
            )
        )
        assert statuses(store) == {"big": "RUNNING"}  # the first step stopped at its budget
        while statuses(store) != {"big": "SUCCEEDED"}:
            assert time.monotonic() - started < 20
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        stop.set()
        wake.set()
        await asyncio.wait_for(loop, 10)
        return took

    # Several steps, none waiting out a 5 s poll.
    assert asyncio.run(scenario()) < 4.5
