"""Large states kept in rows: what a fresh store reads back is, at every step, exactly the
state the engine committed, and a Map's step costs the same at 200 items as at 8,000."""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import messages
from orchestrator.asl.loader import load_definition
from orchestrator.engine import Engine
from orchestrator.store import SqliteStore
from orchestrator.store.rows import INLINE_THREADS

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
# A Map of Tasks with Retry, Catch, a Wait between, tolerated failures; then a Parallel.
MACHINE = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 30,
            "ToleratedFailurePercentage": 50,
            "ItemSelector": {"n.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
            "ItemProcessor": {
                "StartAt": "Work",
                "States": {
                    "Work": {
                        "Type": "Task",
                        "Resource": LAMBDA + "Work",
                        "Retry": [{"ErrorEquals": ["Again"], "IntervalSeconds": 1}],
                        "Next": "Pause",
                    },
                    "Pause": {"Type": "Wait", "Seconds": 1, "End": True},
                },
            },
            "ResultPath": "$.results",
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                {
                    "StartAt": "B",
                    "States": {"B": {"Type": "Task", "Resource": LAMBDA + "Work", "End": True}},
                },
            ],
            "End": True,
        },
    },
}


class Run:
    """An execution driven through the engine, answering its tasks at random."""

    def __init__(self, tmp: Path, machine: dict[str, Any], kind: str = "STANDARD") -> None:
        self.db = tmp / "sfn.db"
        self.store = SqliteStore(self.db)
        loaded = dataclasses.replace(load_definition(json.dumps(machine), name="M"), type=kind)
        self.now = time.time()
        self.engine = Engine(
            {"M": loaded}, self.store, clock=lambda: datetime.fromtimestamp(self.now, UTC)
        )
        self.requests: list[messages.TaskRequest] = []

    def take(self, ids: list[int] | None) -> None:
        for row in self.store.outbox_messages(ids or []):
            if row.routing_key.startswith("lambda."):
                self.requests.append(messages.TaskRequest.from_wire(row.body))
        self.store.delete_outbox(ids or [])

    def fire_due(self) -> None:
        self.now += 0.5  # each turn half a second passes
        for timer, arn in self.store.due_timers(self.now):
            with self.store.batch():
                self.take(self.engine.fire_timer(timer, arn))

    def check(self) -> None:
        """The cached state is exactly what the file holds, read by another store."""
        [listed] = self.store.executions()
        record = self.store.execution_by_arn(listed.execution_arn)  # what the engine steps on
        assert record is not None
        cached = record.state
        fresh = SqliteStore(self.db)
        try:
            [read] = fresh.executions()
        finally:
            fresh.close()
        assert read.model_dump() == cached.model_dump()


def test_a_large_state_reads_back_exactly_at_every_step(tmp_path: Path) -> None:
    run = Run(tmp_path, MACHINE)
    draw = random.Random(7)
    items = list(range(3 * INLINE_THREADS))
    with run.store.batch():
        run.take(
            run.engine.start(
                messages.IntakeRequest(
                    state_machine="M", execution_name="big", input={"items": items, "tag": "t"}
                )
            )
        )
    steps = 0
    while run.requests or run.store.due_timers(run.now + 3600):
        draw.shuffle(run.requests)
        if run.requests:
            request = run.requests.pop()
            outcome = draw.random()
            result: messages.AnyTaskResult
            if outcome < 0.15:
                result = messages.TaskFailed(
                    task_token=request.task_token, attempt=request.attempt, error_type="Again"
                )
            elif outcome < 0.25:
                result = messages.TaskFailed(
                    task_token=request.task_token, attempt=request.attempt, error_type="Broken"
                )
            else:
                result = messages.TaskSucceeded(
                    task_token=request.task_token, attempt=request.attempt, output=request.payload
                )
            with run.store.batch():
                run.take(run.engine.apply(result))
        run.fire_due()
        run.check()
        steps += 1
    [state] = run.store.executions()
    assert state.status in ("SUCCEEDED", "FAILED") and steps > len(items)
    with sqlite3.connect(run.db) as db:  # a finished execution keeps no rows of parts
        assert db.execute("SELECT count(*) FROM parts").fetchone() == (0,)
        assert db.execute("SELECT layout FROM executions").fetchone() == (0,)


def test_a_small_state_stays_in_one_column(tmp_path: Path) -> None:
    small = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA + "Work", "End": True}},
    }
    run = Run(tmp_path, small)
    run.take(
        run.engine.start(messages.IntakeRequest(state_machine="M", execution_name="s", input={}))
    )
    with sqlite3.connect(run.db) as db:
        assert db.execute("SELECT layout FROM executions").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM parts").fetchone() == (0,)


def per_result_seconds(tmp: Path, items: int) -> float:
    """The median time to apply one task result of an inline Map of ``items`` items."""
    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": LAMBDA + "Work", "End": True}},
                },
                "End": True,
            }
        },
    }
    run = Run(tmp, machine, kind="EXPRESS")
    with run.store.batch():
        run.take(
            run.engine.start(
                messages.IntakeRequest(
                    state_machine="M", execution_name="m", input={"items": list(range(items))}
                )
            )
        )
    run.fire_due()
    times = []
    while len(times) < 150 and run.requests:
        request = run.requests.pop(0)
        started = time.perf_counter()
        with run.store.batch():
            run.take(
                run.engine.apply(
                    messages.TaskSucceeded(
                        task_token=request.task_token, attempt=0, output=request.payload
                    )
                )
            )
        times.append(time.perf_counter() - started)
        run.fire_due()
    times.sort()
    return times[len(times) // 2]


def test_a_map_step_costs_the_same_whatever_the_items(tmp_path: Path) -> None:
    # Before the split layout a step wrote the whole state: 8,000 items cost 40x 200 items.
    measured = []
    for attempt in range(3):  # a busy machine gets two more tries
        small = per_result_seconds(tmp_path / f"small-{attempt}", 200)
        large = per_result_seconds(tmp_path / f"large-{attempt}", 8000)
        measured.append(f"200 items: {small * 1e3:.2f} ms, 8,000: {large * 1e3:.2f} ms")
        if large < 3 * small:
            return
    pytest.fail("; ".join(measured))
