"""EXPRESS executions in memory: the store's bounds, the routing beside the durable store,
the recorded starts that run again after a crash, and AWS's 5-minute limit."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import messages
from orchestrator.asl.loader import load_definition
from orchestrator.engine import Engine, StartRejected
from orchestrator.service.express import Reruns
from orchestrator.store import SqliteStore
from orchestrator.store.express.memory import ExecutionLimit, ExpressStore
from orchestrator.store.express.routed import RoutedStore

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
TASKS = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Task", "Resource": LAMBDA + "Work", "Next": "B"},
        "B": {"Type": "Task", "Resource": LAMBDA + "Work", "End": True},
    },
}


class Clock:
    """Epoch seconds that a test moves on."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


class Setup:
    """An engine on a routed store: EXPRESS executions in memory, a SQLite file beside."""

    def __init__(
        self, tmp: Path, document: dict[str, Any] = TASKS, replica: str = "r1", **express: Any
    ) -> None:
        self.clock = Clock()
        self.db = tmp / "sfn.db"
        self.durable = SqliteStore(self.db)
        memory = ExpressStore(clock=self.clock, **express)
        self.store = RoutedStore(self.durable, memory, replica=replica, clock=self.clock)
        machine = load_definition(json.dumps(document), name="E")
        self.engine = Engine(
            {"E": dataclasses.replace(machine, type="EXPRESS"), "S": machine},
            self.store,
            clock=self.clock.datetime,
        )

    def start(self, name: str, machine: str = "E") -> list[int]:
        with self.store.batch():
            return self.engine.start(
                messages.IntakeRequest(state_machine=machine, execution_name=name, input={})
            )

    def tasks(self, ids: list[int]) -> list[messages.TaskRequest]:
        rows = self.store.outbox_messages(ids)
        self.store.delete_outbox(ids)
        return [
            messages.TaskRequest.from_wire(r.body) for r in rows if r.routing_key == "lambda.Work"
        ]

    def answer(self, task: messages.TaskRequest) -> list[int]:
        result = messages.TaskSucceeded(task_token=task.task_token, attempt=0, output={"ok": 1})
        with self.store.batch():
            return self.engine.apply(result) or []

    def rows(self, table: str) -> int:
        with sqlite3.connect(self.db) as connection:
            (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(count)


def test_an_express_execution_writes_nothing_per_step_to_the_durable_store(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    ids = setup.start("one")
    record = setup.store.execution("E", "one")
    assert record is not None
    arn = record.state.execution_arn
    assert arn.startswith("arn:aws:states:us-east-1:123456789012:express:E:one:")
    assert all(i < 0 for i in ids)  # its outbox is in memory too
    [task] = setup.tasks(ids)
    assert setup.store.outbox_messages(ids) == []  # sent, confirmed, forgotten
    assert setup.rows("express_starts") == 1  # its start, recorded once (asynchronous)
    wal = (tmp_path / "sfn.db-wal").stat().st_size
    [task] = setup.tasks(setup.answer(task))
    ids = setup.answer(task)
    state = setup.store.execution_by_arn(arn)
    assert state is not None and state.state.status == "SUCCEEDED"
    assert (setup.rows("executions"), setup.rows("history"), setup.rows("outbox")) == (0, 0, 0)
    assert setup.rows("express_starts") == 0  # forgotten at its end
    # The steps in between wrote nothing: the log grew by the record's delete only.
    assert (tmp_path / "sfn.db-wal").stat().st_size - wal <= 4 * 2048
    types = [e["type"] for e in setup.store.history(arn)]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    # A STANDARD execution beside it is durable, as ever.
    setup.start("durable", machine="S")
    assert setup.rows("executions") == 1


def test_tasks_of_an_express_execution_are_answered_on_the_process_queue(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    ids = setup.start("one")
    rows = setup.store.outbox_messages(ids)
    [dispatch] = [r for r in rows if r.routing_key == "lambda.Work"]
    assert dispatch.reply_to == "orchestrator.task-results.r1" == setup.store.reply_queue
    ids = setup.start("durable", machine="S")
    [dispatch] = [r for r in setup.store.outbox_messages(ids) if r.routing_key == "lambda.Work"]
    assert dispatch.reply_to == "orchestrator.task-results"


def test_a_start_through_start_sync_execution_is_not_recorded(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    with setup.store.at_most_once():
        setup.start("sync")
    assert setup.rows("express_starts") == 0
    setup.start("async")
    assert setup.rows("express_starts") == 1


def test_the_store_holds_a_bounded_number_of_executions(tmp_path: Path) -> None:
    setup = Setup(tmp_path, capacity=2, keep_seconds=60)
    first = setup.tasks(setup.start("a"))
    setup.start("b")
    with pytest.raises(StartRejected) as refused:
        setup.start("c")
    assert refused.value.error == "ExecutionLimitExceeded"
    # "a" ends: a new start takes the place of the finished one.
    [second] = setup.tasks(setup.answer(first[0]))
    setup.answer(second)
    setup.start("c")
    assert setup.store.execution("E", "a") is None
    assert setup.store.execution("E", "c") is not None
    assert len(setup.store.express) == 2


def test_a_finished_execution_is_forgotten_after_its_time(tmp_path: Path) -> None:
    store = ExpressStore(keep_seconds=10, clock=(clock := Clock()))
    setup = Setup(tmp_path)
    setup.store.express = store
    [task] = setup.tasks(setup.start("a"))
    [task] = setup.tasks(setup.answer(task))
    setup.answer(task)
    assert setup.store.execution("E", "a") is not None  # readable for a while
    clock.now += 11
    store.forget_expired()
    assert setup.store.execution("E", "a") is None
    assert len(store) == 0


def test_the_history_kept_is_the_first_events_and_the_final_one(tmp_path: Path) -> None:
    setup = Setup(tmp_path, history_kept=4)
    [task] = setup.tasks(setup.start("a"))
    [task] = setup.tasks(setup.answer(task))
    setup.answer(task)
    record = setup.store.execution("E", "a")
    assert record is not None
    events = setup.store.history(record.state.execution_arn)
    assert [e["id"] for e in events][:4] == [1, 2, 3, 4]
    assert len(events) == 5 and events[-1]["type"] == "ExecutionSucceeded"
    assert setup.store.last_event_id(record.state.execution_arn) == events[-1]["id"]


def test_timers_in_memory_fire_in_order_and_can_be_moved() -> None:
    store = ExpressStore()
    store._timers.update({"t1": (5.0, "arn1"), "t2": (3.0, "arn2")})
    store._due.extend([(3.0, "t2"), (5.0, "t1")])
    assert store.due_timers(4.0) == [("t2", "arn2")]
    assert store.due_timers(6.0) == [("t2", "arn2"), ("t1", "arn1")]
    store.postpone_timer("t2", 10.0)
    assert store.due_timers(6.0) == [("t1", "arn1")]
    store.delete_timer("t1")
    assert store.next_timer_due() == 10.0
    assert store.due_timers(100.0, limit=1) == [("t2", "arn2")]


def test_a_full_store_refuses_a_start_with_a_clear_error() -> None:
    store = ExpressStore(capacity=0)
    with pytest.raises(ExecutionLimit, match="the most this orchestrator holds"):
        store._make_room()


def test_an_express_execution_times_out_after_five_minutes(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.start("slow")
    record = setup.store.execution("E", "slow")
    assert record is not None
    setup.clock.now += 299
    assert setup.store.due_timers(setup.clock.now) == []
    setup.clock.now += 2
    [(timer, arn)] = setup.store.due_timers(setup.clock.now)
    setup.engine.fire_timer(timer, arn)
    ended = setup.store.execution_by_arn(arn)
    assert ended is not None
    assert (ended.state.status, ended.state.error) == ("TIMED_OUT", "States.Timeout")
    assert setup.rows("express_starts") == 0


def test_a_recorded_start_runs_again_with_its_arn_after_a_crash(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.tasks(setup.start("lost"))
    record = setup.store.execution("E", "lost")
    assert record is not None
    arn = record.state.execution_arn
    setup.durable.close()  # the process dies: its memory is gone, the record stays
    again = Setup(tmp_path, replica="r2")  # the next run of the process: another name
    reruns = Reruns(again.engine, again.store)
    sent: list[list[int]] = []

    async def publish(ids: list[int]) -> None:
        sent.append(ids)

    assert asyncio.run(reruns.run_claimed(publish)) == 1
    rerun = again.store.execution_by_arn(arn)
    assert rerun is not None and rerun.state.status == "RUNNING"
    [task] = again.tasks(sent[0])
    assert again.rows("express_starts") == 1
    [task] = again.tasks(again.answer(task))
    again.answer(task)
    assert again.rows("express_starts") == 0
    assert asyncio.run(reruns.run_claimed(publish)) == 0


def test_a_live_holder_keeps_its_starts_and_a_dead_ones_are_taken(tmp_path: Path) -> None:
    first = Setup(tmp_path)
    first.start("held")
    other = RoutedStore(SqliteStore(tmp_path / "sfn.db"), replica="r2", clock=first.clock)
    other._claimed_once = True  # as a replica sharing a server's store
    assert other.claim_stale_starts() == []  # fresh: r1 holds it
    first.clock.now += 30
    first.store.refresh_claims()  # r1 is alive
    assert other.claim_stale_starts() == []
    first.clock.now += 30  # r1 stopped refreshing: its claim is stale
    [(arn, record)] = other.claim_stale_starts()
    assert record["name"] == "held" and ":express:E:held:" in arn
    assert other.claim_stale_starts() == []  # taken once


def test_the_timers_of_ended_executions_do_not_pile_up(tmp_path: Path) -> None:
    # Each execution that ends leaves its 5-minute timer's entry behind in the heap.
    setup = Setup(tmp_path)
    for i in range(1100):
        [task] = setup.tasks(setup.start(f"e{i}"))
        [task] = setup.tasks(setup.answer(task))
        setup.answer(task)
    memory = setup.store.express
    assert memory._timers == {}
    assert len(memory._due) <= 1024 + 1
    assert memory.next_timer_due() is None
