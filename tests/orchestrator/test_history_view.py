"""The readable history: AWS's events folded into one row per step (pure, in-process)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.asl.loader import load_definition
from orchestrator.cli.history_view import duration, fold, render
from orchestrator.local_runner import FakeClock, run_local
from tests.fixtures.functions import flaky
from workers.runtime import Function

RETRIED_THEN_CAUGHT = {
    "StartAt": "Flaky",
    "States": {
        "Flaky": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:FlakyFunction",
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fan"}],
            "Next": "Fan",
        },
        "Fan": {
            "Type": "Parallel",
            "ResultPath": "$.fan",
            "Next": "Each",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
            ],
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ResultPath": "$.each",
            "ItemProcessor": {
                "StartAt": "Double",
                "States": {"Double": {"Type": "Pass", "End": True}},
            },
            "Next": "Retried",
        },
        "Retried": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:FlakyFunction",
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "Next": "Boom",
        },
        "Boom": {"Type": "Fail", "Error": "Oops", "Cause": "the cause " * 20},
    },
}


def _history() -> list[dict[str, Any]]:
    machine = load_definition(json.dumps(RETRIED_THEN_CAUGHT), name="Retried")
    functions = {"FlakyFunction": Function.from_handler("FlakyFunction", flaky)}
    # The fake clock moves only by the Retry intervals: 1 s, then 1 s and 2 s.
    result = run_local(machine, {"items": [1, 2]}, functions, clock=FakeClock())
    return [json.loads(json.dumps(event.to_aws(), default=str)) for event in result.history]


def test_each_state_visit_is_one_step_with_its_attempts_and_errors() -> None:
    view = fold(_history())
    assert view.status == "FAILED" and view.error == "Oops"
    steps = [(s.name, s.type, s.depth, s.attempts, len(s.errors)) for s in view.steps]
    assert steps == [
        ("Flaky", "Task", 0, 2, 2),
        ("Fan", "Parallel", 0, 0, 0),
        ("A", "Pass", 1, 0, 0),
        ("B", "Pass", 1, 0, 0),
        ("Each", "Map", 0, 0, 0),
        ("Double", "Pass", 1, 0, 0),
        ("Double", "Pass", 1, 0, 0),
        ("Retried", "Task", 0, 3, 2),
        ("Boom", "Fail", 0, 0, 0),
    ]
    assert view.steps[4].iterations == 2


def test_the_table_shows_status_tries_errors_and_nesting_within_80_columns() -> None:
    text = render(_history(), name="local")
    lines = text.splitlines()
    assert lines[0].startswith("local: FAILED in ") and lines[0].endswith(", 9 steps")
    assert lines[1] == "  Oops: " + ("the cause " * 7).strip()
    rows = {line[44:]: line for line in lines if len(line) > 44 and line[:4].strip().isdigit()}
    assert rows["Flaky"][16:25].strip() == "caught" and rows["Flaky"][37:42].strip() == "2"
    assert rows["Retried"][16:25].strip() == "succeeded" and rows["Retried"][37:42].strip() == "3"
    assert rows["Boom"][16:25].strip() == "failed"
    assert "  A" in rows and "  Double" in rows and "Each (2 iterations)" in rows
    # A Lambda error shows its errorMessage, under the step that raised it.
    flaky_at = lines.index(rows["Flaky"])
    assert lines[flaky_at + 1 : flaky_at + 3] == [
        "      Flaky: attempt 0 failed",
        "      Flaky: attempt 1 failed",
    ]
    assert max(len(line) for line in lines) <= 80


def test_inputs_and_outputs_on_request() -> None:
    plain = render(_history(), name="local")
    detailed = render(_history(), name="local", with_io=True)
    assert "in:  " not in plain and "out: " not in plain
    assert '      in:  {"items":[1,2]}' in detailed.splitlines()
    assert "        out: 1" in detailed.splitlines()  # a Map iteration's Pass, indented
    assert max(len(line) for line in detailed.splitlines()) <= 80


def _event(
    event_id: int, kind: str, at: datetime, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "previousEventId": event_id - 1,
        "timestamp": at.isoformat(),
        "type": kind,
    }
    if details is not None:
        key = (
            "stateEnteredEventDetails"
            if kind.endswith("StateEntered")
            else kind[0].lower() + kind[1:] + "EventDetails"
        )
        event[key] = details
    return event


def test_a_running_and_an_aborted_step() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        _event(1, "ExecutionStarted", start, {"input": "{}"}),
        _event(2, "WaitStateEntered", start, {"name": "Nap", "input": "{}"}),
    ]
    running = render(events, name="nap").splitlines()
    assert running[0] == "nap: RUNNING, 1 step"
    assert running[-1][16:25].strip() == "running" and running[-1][27:35].strip() == ""
    stopped = start + timedelta(minutes=3, seconds=5)
    aborted = [
        *events,
        _event(3, "ExecutionAborted", stopped, {"error": "Operator", "cause": "not needed"}),
    ]
    lines = render(aborted, name="nap").splitlines()
    assert lines[:2] == ["nap: ABORTED in 3m 05s, 1 step", "  Operator: not needed"]
    assert lines[-1][16:25].strip() == "aborted" and lines[-1][27:35].strip() == "3m 05s"


def test_a_very_long_cause_is_cut_in_the_table() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        _event(1, "ExecutionStarted", start, {"input": "{}"}),
        _event(2, "ExecutionFailed", start, {"error": "Big", "cause": "x" * 5000}),
    ]
    text = render(events, name="big")
    assert "(--json shows all)" in text and len(text) < 1000


def test_durations_read_at_a_glance() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert [
        duration(start, start + timedelta(seconds=seconds))
        for seconds in (0.0123, 1.5, 125, 3 * 3600 + 120)
    ] == ["12 ms", "1.50 s", "2m 05s", "3h 02m"]
    assert duration(start, None) == ""
