"""The console's execution progress (``orchestrator.console.progress``) from histories.

Hand-made AWS-shaped histories pin each rule; histories written by this engine (the
in-process runner) and the ones recorded on real AWS (``../shared/conformance``) check that
the same reading holds on real event orders.
"""

from __future__ import annotations

import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl.execution import details_key
from orchestrator.asl.loader import load_definition
from orchestrator.console.progress import parse_json_text, progress
from orchestrator.local_runner import FakeClock, run_local
from tests.conformance.corpus import FOLDER
from workers.runtime import Function

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
CALL_CENTER = Path(__file__).resolve().parents[2] / "definitions/CallCenterStateMachine.asl.json"
START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class History:
    """Builds an AWS-shaped history: ids, ISO-8601 ``Z`` timestamps, ``<type>EventDetails``."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.now = START

    def add(self, kind: str, after: float = 0.0, **details: Any) -> History:
        self.now += timedelta(seconds=after)
        stamp = self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event: dict[str, Any] = {"id": len(self.events) + 1, "timestamp": stamp, "type": kind}
        event["previousEventId"] = len(self.events)
        if details:
            event[details_key(kind)] = details
        self.events.append(event)
        return self

    def started(self, value: Any) -> History:
        return self.add("ExecutionStarted", input=json.dumps(value), roleArn="role")

    def enter(self, kind: str, name: str, value: Any, after: float = 0.0) -> History:
        return self.add(f"{kind}StateEntered", after, name=name, input=json.dumps(value))

    def exit(self, kind: str, name: str, value: Any, after: float = 0.0, **extra: Any) -> History:
        return self.add(f"{kind}StateExited", after, name=name, output=json.dumps(value), **extra)

    def task(self, name: str, value: Any, result: Any, after: float = 1.0) -> History:
        """A Task state that calls its Lambda function once, successfully."""
        self.enter("Task", name, value)
        function = LAMBDA + name.replace(" ", "") + "Function"
        self.add("LambdaFunctionScheduled", resource=function, input=json.dumps(value))
        self.add("LambdaFunctionStarted")
        self.add("LambdaFunctionSucceeded", after, output=json.dumps(result))
        return self.exit("Task", name, result)


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {name: state["status"] for name, state in result["states"].items()}


def call_center(resolved: bool) -> list[dict[str, Any]]:
    case = {"Case": "001", "Message": "Case 001: opened...assigned..."}
    worked = {**case, "Status": 1 if resolved else 0}
    history = History().started({"inputCaseID": "001"})
    history.task("Open Case", {"inputCaseID": "001"}, {"Case": "001"})
    history.task("Assign Case", {"Case": "001"}, case)
    history.task("Work on Case", case, worked)
    history.enter("Choice", "Is Case Resolved", worked).exit("Choice", "Is Case Resolved", worked)
    if resolved:
        history.task("Close Case", worked, {**worked, "Message": "closed."})
        return history.add("ExecutionSucceeded", output=json.dumps({"done": True})).events
    history.task("Escalate Case", worked, {**worked, "Message": "escalating."})
    history.enter("Fail", "Fail", worked)
    return history.add("ExecutionFailed", cause="Engage Tier 2 Support.").events


# -- hand-made histories -------------------------------------------------------------------


def test_parse_json_text_parses_json_text_only() -> None:
    assert parse_json_text('{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse_json_text("3") == 3
    assert parse_json_text("not json") == "not json"
    assert parse_json_text({"already": "parsed"}) == {"already": "parsed"}
    assert parse_json_text(None) is None


def test_call_center_resolved_path_all_succeeded() -> None:
    result = progress(call_center(resolved=True))
    names = ["Open Case", "Assign Case", "Work on Case", "Is Case Resolved", "Close Case"]
    assert statuses(result) == dict.fromkeys(names, "SUCCEEDED")
    assert "Escalate Case" not in result["states"]  # never entered: NOT_STARTED to the caller
    steps = result["steps"]
    assert [step["name"] for step in steps] == names
    assert [step["id"] for step in steps] == list(range(5))
    opened = steps[0]
    assert opened["type"] == "Task" and opened["input"] == {"inputCaseID": "001"}
    assert opened["output"] == {"Case": "001"}
    assert opened["enteredEventId"] == 2 and opened["exitedEventId"] == 6
    assert opened["start"] == "2026-01-02T03:04:05.000Z"
    assert opened["durationMs"] == pytest.approx(1000.0)
    assert opened["task"] == {
        "resourceType": "lambda",
        "resource": LAMBDA + "OpenCaseFunction",
        "parameters": {"inputCaseID": "001"},
        "result": {"Case": "001"},
        "error": None,
        "cause": None,
    }
    assert opened["attempts"] == [] and opened["iteration"] is None
    assert opened["parent"] is None and opened["branch"] is None
    assert steps[3]["task"] is None and steps[3]["type"] == "Choice"
    execution = result["execution"]
    assert execution["status"] == "SUCCEEDED" and execution["output"] == {"done": True}
    assert execution["input"] == {"inputCaseID": "001"}
    assert execution["failedState"] is None and execution["transitions"] == 5
    assert execution["start"] == "2026-01-02T03:04:05.000Z"
    assert execution["end"] == "2026-01-02T03:04:09.000Z"


def test_call_center_escalated_path_fails_at_the_fail_state() -> None:
    result = progress(call_center(resolved=False))
    assert statuses(result) == {
        "Open Case": "SUCCEEDED",
        "Assign Case": "SUCCEEDED",
        "Work on Case": "SUCCEEDED",
        "Is Case Resolved": "SUCCEEDED",
        "Escalate Case": "SUCCEEDED",
        "Fail": "FAILED",
    }
    execution = result["execution"]
    assert execution["status"] == "FAILED" and execution["failedState"] == "Fail"
    assert execution["cause"] == "Engage Tier 2 Support." and execution["error"] is None
    fail = result["steps"][-1]
    assert fail["type"] == "Fail" and fail["exitedEventId"] is None and fail["output"] is None


def test_task_retried_twice_then_succeeding_lists_its_attempts() -> None:
    history = History().started({}).enter("Task", "Charge", {"amount": 5})
    for error, wait in (("Busy", 1.0), ("Busy", 2.0)):
        history.add("TaskScheduled", resourceType="lambda", resource="invoke", parameters="{}")
        history.add("TaskStarted", resourceType="lambda", resource="invoke")
        history.add("TaskFailed", 0.5, error=error, cause="try later", resourceType="lambda")
        history.now += timedelta(seconds=wait)
    history.add("TaskScheduled", resourceType="lambda", resource="invoke", parameters='{"n":3}')
    history.add("TaskSucceeded", 0.5, resourceType="lambda", resource="invoke", output='{"ok":1}')
    history.exit("Task", "Charge", {"ok": 1}).add("ExecutionSucceeded", output='{"ok":1}')
    result = progress(history.events)
    (step,) = result["steps"]
    assert step["status"] == "SUCCEEDED" and result["states"]["Charge"]["status"] == "SUCCEEDED"
    assert [(a["eventId"], a["error"], a["cause"]) for a in step["attempts"]] == [
        (5, "Busy", "try later"),
        (8, "Busy", "try later"),
    ]
    assert [a["retryAfterMs"] for a in step["attempts"]] == [pytest.approx(1000.0), 2000.0]
    assert step["attempts"][0]["at"] == "2026-01-02T03:04:05.500Z"
    assert step["task"]["parameters"] == {"n": 3} and step["task"]["result"] == {"ok": 1}
    assert step["task"]["error"] is None  # the last attempt succeeded
    assert step["task"]["resourceType"] == "lambda" and step["task"]["resource"] == "invoke"


def test_a_caught_task_shows_caught_error_and_its_catcher_runs() -> None:
    history = History().started({}).enter("Task", "Ship", {})
    history.add("ActivityScheduled", resource="arn:activity:ship", input="{}")
    history.add("ActivityStarted", workerName="w1")
    history.add("ActivityTimedOut", 3.0, error="States.Timeout")
    error_output = {"Error": "States.Timeout"}
    history.exit("Task", "Ship", error_output).enter("Pass", "Refund", error_output)
    history.exit("Pass", "Refund", error_output).add("ExecutionSucceeded", output="{}")
    result = progress(history.events)
    assert statuses(result) == {"Ship": "CAUGHT_ERROR", "Refund": "SUCCEEDED"}
    ship = result["steps"][0]
    assert ship["attempts"][0]["error"] == "States.Timeout"
    assert ship["attempts"][0]["retryAfterMs"] is None
    assert ship["task"]["error"] == "States.Timeout" and ship["task"]["resourceType"] == "activity"
    assert ship["output"] == error_output
    assert result["execution"]["status"] == "SUCCEEDED"


def test_a_running_wait_and_its_execution_are_running() -> None:
    history = History().started({}).enter("Pass", "Begin", {}).exit("Pass", "Begin", {})
    history.enter("Wait", "Pause", {}, after=0.25)
    result = progress(history.events)
    assert statuses(result) == {"Begin": "SUCCEEDED", "Pause": "RUNNING"}
    assert result["states"]["Pause"] == {"status": "RUNNING", "entered": 1, "running": 1}
    pause = result["steps"][1]
    assert pause["end"] is None and pause["durationMs"] is None and pause["exitedEventId"] is None
    execution = result["execution"]
    assert execution["status"] == "RUNNING" and execution["end"] is None
    assert execution["failedState"] is None


def test_an_aborted_execution_aborts_its_open_task() -> None:
    history = History().started({}).enter("Task", "Slow", {})
    history.add("LambdaFunctionScheduled", resource=LAMBDA + "slow", input="{}")
    history.add("ExecutionAborted", 4.0, error="Stop", cause="by the user")
    result = progress(history.events)
    assert statuses(result) == {"Slow": "ABORTED"}
    assert result["steps"][0]["durationMs"] == pytest.approx(4000.0)
    execution = result["execution"]
    assert (execution["status"], execution["error"], execution["cause"]) == (
        "ABORTED",
        "Stop",
        "by the user",
    )
    assert execution["failedState"] is None


def test_a_timed_out_execution_times_out_its_open_state() -> None:
    history = History().started({}).enter("Task", "Slow", {})
    history.add("TaskScheduled", resourceType="sqs", resource="sendMessage.waitForTaskToken")
    history.add("TaskStarted", resourceType="sqs", resource="sendMessage.waitForTaskToken")
    history.add("ExecutionTimedOut", 60, error="States.Timeout", cause="The execution timed out.")
    result = progress(history.events)
    assert statuses(result) == {"Slow": "TIMED_OUT"}
    assert result["execution"]["status"] == "TIMED_OUT"
    assert result["execution"]["error"] == "States.Timeout"


def map_history(concurrent: bool, finish: bool = True) -> list[dict[str, Any]]:
    history = History().started([1, 2, 3]).enter("Map", "Each", [1, 2, 3])
    history.add("MapStateStarted", length=3)
    if concurrent:
        for index in range(3):
            history.add("MapIterationStarted", index=index, name="Each")
        for index in range(3):
            history.enter("Pass", "Double", index + 1).exit("Pass", "Double", 2 * index + 2)
            history.enter("Wait", "Rest", 2 * index + 2)
        if not finish:
            return history.events
        for index in range(3):
            history.exit("Wait", "Rest", 2 * index + 2, after=1.0)
            history.add("MapIterationSucceeded", index=index, name="Each")
    else:
        for index in range(3):
            history.add("MapIterationStarted", index=index, name="Each")
            history.enter("Pass", "Double", index + 1).exit("Pass", "Double", 2 * index + 2)
            history.enter("Wait", "Rest", 2 * index + 2)
            history.exit("Wait", "Rest", 2 * index + 2, after=1.0)
            history.add("MapIterationSucceeded", index=index, name="Each")
    history.add("MapStateSucceeded").exit("Map", "Each", [2, 4, 6])
    return history.add("ExecutionSucceeded", output="[2,4,6]").events


def test_a_sequential_map_attributes_each_step_to_its_iteration() -> None:
    result = progress(map_history(concurrent=False))
    assert statuses(result) == dict.fromkeys(("Each", "Double", "Rest"), "SUCCEEDED")
    assert result["states"]["Double"] == {"status": "SUCCEEDED", "entered": 3, "running": 0}
    inner = result["steps"][1:]
    assert [(s["name"], s["iteration"], s["parent"]) for s in inner] == [
        ("Double", 0, 0),
        ("Rest", 0, 0),
        ("Double", 1, 0),
        ("Rest", 1, 0),
        ("Double", 2, 0),
        ("Rest", 2, 0),
    ]
    assert [s["input"] for s in inner if s["name"] == "Double"] == [1, 2, 3]
    assert result["steps"][0]["iteration"] is None and result["steps"][0]["parent"] is None


def test_a_concurrent_map_leaves_iterations_unknown_and_counts_right() -> None:
    result = progress(map_history(concurrent=True))
    assert statuses(result) == dict.fromkeys(("Each", "Double", "Rest"), "SUCCEEDED")
    assert result["states"]["Rest"] == {"status": "SUCCEEDED", "entered": 3, "running": 0}
    inner = result["steps"][1:]
    assert all(step["iteration"] is None and step["parent"] == 0 for step in inner)
    running = progress(map_history(concurrent=True, finish=False))
    assert running["states"]["Rest"] == {"status": "RUNNING", "entered": 3, "running": 3}
    assert running["states"]["Double"]["status"] == "SUCCEEDED"
    assert running["states"]["Each"] == {"status": "RUNNING", "entered": 1, "running": 1}
    assert running["execution"]["status"] == "RUNNING"


def test_a_loop_counts_every_entry_and_keeps_the_last_caught_status() -> None:
    history = History().started({})
    for attempt in range(3):
        history.enter("Task", "Poll", {"n": attempt})
        history.add("LambdaFunctionScheduled", resource=LAMBDA + "poll", input="{}")
        if attempt < 2:
            history.add("LambdaFunctionSucceeded", output='"pending"')
        else:
            history.add("LambdaFunctionFailed", error="Gone", cause="x")
        history.exit("Task", "Poll", {"n": attempt})
    result = progress(history.add("ExecutionSucceeded", output="{}").events)
    assert result["states"]["Poll"] == {"status": "CAUGHT_ERROR", "entered": 3, "running": 0}
    assert [s["status"] for s in result["steps"]] == ["SUCCEEDED", "SUCCEEDED", "CAUGHT_ERROR"]


def test_assigned_variables_and_non_json_text() -> None:
    history = History().started({}).add("PassStateEntered", name="Set", input="not json")
    history.add(
        "PassStateExited", name="Set", output='{"a":1}', assignedVariables={"x": "1", "y": '"s"'}
    )
    step = progress(history.events)["steps"][0]
    assert step["input"] == "not json" and step["output"] == {"a": 1}
    assert step["assignedVariables"] == {"x": 1, "y": "s"}


def test_timestamps_as_epoch_numbers_offsets_and_datetimes() -> None:
    for start, end in (
        (1767323045.0, 1767323046.5),
        ("2026-01-02T04:04:05+01:00", "2026-01-02T03:04:06.500Z"),
        (START, START + timedelta(seconds=1.5)),
    ):
        events: list[dict[str, Any]] = [
            {"id": 1, "timestamp": start, "type": "PassStateEntered"},
            {"id": 2, "timestamp": end, "type": "PassStateExited"},
        ]
        events[0]["stateEnteredEventDetails"] = {"name": "P", "input": "{}"}
        events[1]["stateExitedEventDetails"] = {"name": "P", "output": "{}"}
        step = progress(events)["steps"][0]
        assert step["durationMs"] == pytest.approx(1500.0)
    assert step["start"] == START.isoformat()  # a datetime is shown as ISO-8601 text


def test_a_history_listed_newest_first_reads_the_same() -> None:
    events = call_center(resolved=False)
    assert progress(events[::-1]) == progress(events)


# -- histories written by this engine ------------------------------------------------------


def run(definition: dict[str, Any], value: Any, **handlers: Any) -> list[dict[str, Any]]:
    machine = load_definition(json.dumps(definition), name="M")
    functions = {name: Function.from_handler(name, handler) for name, handler in handlers.items()}
    result = run_local(machine, value, functions, clock=FakeClock())
    return [event.to_aws() for event in result.history]


@pytest.mark.parametrize("resolved", [True, False])
def test_the_engines_call_center_history(resolved: bool) -> None:
    def step(text: str, **extra: Any) -> Any:
        return lambda event, context: {**event, "Message": text, **extra}

    events = run(
        json.loads(CALL_CENTER.read_text()),
        {"inputCaseID": "001"},
        OpenCaseFunction=step("opened"),
        AssignCaseFunction=step("assigned"),
        WorkOnCaseFunction=step("worked", Status=1 if resolved else 0),
        CloseCaseFunction=step("closed"),
        EscalateCaseFunction=step("escalating"),
    )
    assert isinstance(events[0]["timestamp"], datetime)  # the engine's own shape
    result = progress(events)
    last = "Close Case" if resolved else "Escalate Case"
    expected = dict.fromkeys(("Open Case", "Assign Case", "Work on Case", "Is Case Resolved"))
    expected = {**dict.fromkeys(expected, "SUCCEEDED"), last: "SUCCEEDED"}
    if not resolved:
        expected["Fail"] = "FAILED"
    assert statuses(result) == expected
    assert result["execution"]["status"] == ("SUCCEEDED" if resolved else "FAILED")
    assert result["execution"]["failedState"] == (None if resolved else "Fail")
    assert result["steps"][0]["task"]["resource"] == LAMBDA + "OpenCaseFunction"
    assert result["steps"][0]["output"]["Message"] == "opened"
    json.dumps(result)  # ready for the browser as it is


def test_the_engines_parallel_failure_fails_its_branch_and_aborts_a_sibling() -> None:
    def boom(event: Any, context: Any) -> Any:
        raise ValueError("nope")

    states = {
        "A": {"Type": "Task", "Resource": LAMBDA + "ok", "End": True},
        "B": {"Type": "Task", "Resource": LAMBDA + "boom", "End": True},
        "C": {"Type": "Wait", "Seconds": 10, "End": True},
    }
    branches = [{"StartAt": name, "States": {name: state}} for name, state in states.items()]
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": branches, "End": True}},
    }
    result = progress(run(definition, {}, ok=lambda event, context: event, boom=boom))
    assert statuses(result) == {"P": "FAILED", "A": "SUCCEEDED", "B": "FAILED", "C": "ABORTED"}
    assert result["execution"]["failedState"] == "B"
    assert result["steps"][0]["attempts"][0]["error"] == "ValueError"  # its branch's error
    assert all(step["parent"] == 0 for step in result["steps"][1:])


def test_the_engines_map_retry_and_tolerated_failures() -> None:
    calls = {"n": 0}

    def flaky(event: Any, context: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("once")
        return event

    task = {"Type": "Task", "Resource": LAMBDA + "flaky", "End": True}
    processor = {"StartAt": "T", "States": {"T": task}}
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3}]
    definition = {
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "ItemProcessor": processor, "Retry": retry, "End": True}},
    }
    result = progress(run(definition, [1, 2], flaky=flaky))
    assert result["execution"]["status"] == "SUCCEEDED"
    assert result["states"]["M"]["status"] == "SUCCEEDED"
    assert [a["retryAfterMs"] for a in result["steps"][0]["attempts"]] == [3000.0]
    assert result["states"]["T"]["entered"] == 4 and result["states"]["T"]["running"] == 0
    assert sorted(step["status"] for step in result["steps"][1:]) == [
        "ABORTED",
        "FAILED",
        "SUCCEEDED",
        "SUCCEEDED",
    ]


def test_every_prefix_of_an_engine_history_is_read_without_error() -> None:
    events = call_center(resolved=False)
    for end in range(len(events) + 1):
        result = progress(events[:end])
        assert sum(s["entered"] for s in result["states"].values()) == len(result["steps"])
        if end < len(events):
            assert result["execution"]["status"] == "RUNNING"


# -- robustness and size -------------------------------------------------------------------


def test_odd_input_never_raises() -> None:
    odd: list[Any] = [
        None,
        "text",
        {},
        {"type": 3},
        {"type": "TaskStateEntered"},
        {"type": "TaskStateExited", "stateExitedEventDetails": None},
        {"type": "MapIterationStarted", "mapIterationStartedEventDetails": {"index": "x"}},
        {"type": "MapIterationFailed", "details": {"index": True, "name": ["list"]}},
        {"type": "PassStateEntered", "details": {"name": {"a": 1}, "input": "[1"}},
        {"type": "TaskSucceeded", "timestamp": "yesterday"},
        {"type": "TaskStateAborted", "timestamp": float("inf")},
        {"type": "ExecutionFailed", "id": "seven", "timestamp": []},
        {"type": "UnknownEvent", "id": 9},
        {"type": "ExecutionSucceeded"},
    ]
    result = progress(odd)
    assert result["execution"]["status"] == "FAILED"  # the first end event counts
    assert progress([]) == progress(None)  # type: ignore[arg-type]
    rng = random.Random(7)
    real = call_center(resolved=False) + map_history(concurrent=True)
    for _ in range(300):
        sample = [rng.choice(real + odd) for _ in range(rng.randrange(40))]
        result = progress(sample)
        assert sum(s["entered"] for s in result["states"].values()) == len(result["steps"])
        if result["execution"]["status"] != "RUNNING":  # an ended execution runs nothing
            assert all(step["status"] != "RUNNING" for step in result["steps"])
        json.dumps(result)


def test_a_history_of_25000_events_is_read_in_linear_time() -> None:
    """Many iterations open at once (the worst case for finding an event's step)."""
    history = History().started([]).enter("Map", "Each", [])
    history.add("MapStateStarted", length=5000)
    for index in range(5000):
        history.add("MapIterationStarted", index=index, name="Each")
    for index in range(5000):
        history.enter("Task", "Work", index)
        history.add("TaskScheduled", resourceType="lambda", resource="invoke", parameters="1")
        history.add("TaskStarted", resourceType="lambda", resource="invoke")
    for index in range(2498):
        history.add("TaskSucceeded", resourceType="lambda", resource="invoke", output="1")
        history.exit("Task", "Work", index)
    history.add("ExecutionAborted")
    assert len(history.events) == 25000
    began = time.perf_counter()
    result = progress(history.events)
    assert time.perf_counter() - began < 2.0  # about 0.2 s; quadratic would take minutes
    assert result["states"]["Work"] == {"status": "ABORTED", "entered": 5000, "running": 0}
    assert sum(step["status"] == "SUCCEEDED" for step in result["steps"]) == 2498


# -- histories recorded on AWS -------------------------------------------------------------


def recorded(file: str) -> list[dict[str, Any]]:
    corpus = FOLDER / file
    if not corpus.is_file():
        pytest.skip(f"conformance corpus not found at {corpus} (it sits beside the checkout)")
    with corpus.open(encoding="utf-8") as lines:
        cases = [json.loads(line) for line in lines if line.strip()]
    return [case for case in cases if case.get("events")]


@pytest.mark.conformance
@pytest.mark.parametrize("file", ["cases.jsonl", "integrations.jsonl"])
def test_recorded_aws_histories(file: str) -> None:
    """Each recorded history gives AWS's status; a failed one names the state that failed
    (the one AWS's cause names, the Fail state, or the Task whose failure ended it); a finished
    one leaves no step running."""
    cases = recorded(file)
    assert cases
    mismatches: list[tuple[Any, ...]] = []
    for case in cases:
        events, expected = case["events"], case["expected"]
        result = progress(events)
        execution = result["execution"]
        if execution["status"] != expected["status"]:
            mismatches.append((case["id"], "status", execution["status"], expected["status"]))
        if any(step["status"] == "RUNNING" for step in result["steps"]):
            mismatches.append((case["id"], "a step left RUNNING"))
        if expected["status"] != "FAILED":
            continue
        cause = expected.get("cause")
        named = (
            re.search(r"executing the state '([^']+)'", cause) if isinstance(cause, str) else None
        )
        if named and execution["failedState"] != named.group(1):  # AWS's cause names it
            mismatches.append((case["id"], "failedState", execution["failedState"], named[1]))
        entered = [e for e in events if e["type"].endswith("StateEntered")]
        last_entered = entered[-1]["details"]["name"] if entered else None
        before_end = events[-2]["type"]
        task_failed = before_end.startswith(("Task", "LambdaFunction", "Activity")) and (
            before_end.endswith(("Failed", "TimedOut"))
        )
        if entered and (entered[-1]["type"] == "FailStateEntered" or task_failed):
            if execution["failedState"] != last_entered:
                mismatches.append((case["id"], "failedState", execution["failedState"]))
        elif execution["failedState"] is None:
            mismatches.append((case["id"], "no failedState"))
    assert mismatches == []


def test_the_engines_chains_give_each_step_of_a_concurrent_map_its_iteration() -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "Pause",
                    "States": {
                        "Pause": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Echo"},
                        "Echo": {"Type": "Pass", "End": True},
                    },
                },
                "End": True,
            }
        },
    }
    machine = load_definition(json.dumps(definition), name="M")
    # Items finish out of order: the later ones wait less.
    items = [{"n": i, "wait": 5 - i} for i in range(5)]
    result = run_local(machine, {"items": items}, {}, clock=FakeClock())
    events = [event.to_aws() for event in result.history]
    assert any(e["previousEventId"] != e["id"] - 1 for e in events)  # the chains branch
    steps = progress(events)["steps"]
    inner = [step for step in steps if step["name"] in ("Pause", "Echo")]
    assert len(inner) == 10
    for step in inner:
        assert step["iteration"] is not None
        assert step["input"]["n"] == step["iteration"], step
