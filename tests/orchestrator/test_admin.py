"""The operator commands on a real store file: executions, describe, history (no broker),
as a user sees them on an 80-column terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import messages
from orchestrator.definitions import load_definitions
from orchestrator.engine import Engine
from orchestrator.store import SqliteStore

REPO = Path(__file__).resolve().parents[2]
# Longer than a table column at 80 columns: listed whole all the same.
LONG_NAME = "a-rather-long-execution-name-that-a-table-used-to-cut-0008"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one finished (closed) and one running execution."""
    path = tmp_path_factory.mktemp("admin") / "sfn.db"
    store = SqliteStore(path)
    engine = Engine(load_definitions(REPO / "definitions"), store)
    outputs = {
        "OpenCaseFunction": {"Case": "7", "Message": "Case 7: opened..."},
        "AssignCaseFunction": {"Case": "7", "Message": "Case 7: opened...assigned..."},
        "WorkOnCaseFunction": {
            "Case": "7",
            "Status": 1,
            "Message": "Case 7: opened...assigned...resolved...",
        },
        "CloseCaseFunction": {
            "Case": "7",
            "Status": 1,
            "Message": "Case 7: opened...assigned...resolved...closed.",
        },
    }
    ids = engine.start(
        messages.IntakeRequest(
            state_machine="CallCenterStateMachine",
            execution_name="done-7",
            input={"inputCaseID": "7"},
        )
    )
    while ids:
        rows = [row for row in store.outbox_messages(ids) if row.exchange == ""]
        store.delete_outbox(ids)
        if not rows:  # only the executions exchange's: it has ended
            break
        request = messages.TaskRequest.from_wire(rows[0].body)
        ids = (
            engine.apply(
                messages.TaskSucceeded(
                    task_token=request.task_token, attempt=0, output=outputs[request.function_name]
                )
            )
            or []
        )
    for name in ("open-8", LONG_NAME):
        engine.start(
            messages.IntakeRequest(
                state_machine="CallCenterLoop", execution_name=name, input={"inputCaseID": "8"}
            )
        )
    store.close()
    return path


def arn(state_machine: str, name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:{state_machine}:{name}"


def test_executions_lists_and_filters(db: Path) -> None:
    every = cli("executions", "--db", str(db))
    assert every.returncode == 0, every.stderr
    assert "done-7" in every.stdout and "open-8" in every.stdout
    running = cli("executions", "--db", str(db), "--status", "running")
    assert "open-8" in running.stdout and "done-7" not in running.stdout
    assert cli("executions", "--db", str(db), "--status", "bogus").returncode == 2


def test_executions_shows_whole_names_at_80_columns(db: Path) -> None:
    lines = cli("executions", "--db", str(db)).stdout.splitlines()
    assert lines[0].split() == [
        "STATUS",
        "STARTED",
        "(UTC)",
        "DURATION",
        "STATE",
        "MACHINE",
        "NAME",
    ]
    row = next(line for line in lines if "CallCenterLoop" in line and "RUNNING" in line)
    assert lines[1].endswith(LONG_NAME), "newest first, the name whole at the end of its row"
    assert row.split()[0] == "RUNNING"
    done = next(line for line in lines if line.endswith("done-7"))
    assert done.split()[:2] == ["SUCCEEDED", done.split()[1]] and " ms " in done


def test_executions_as_json_lists_as_aws_does(db: Path) -> None:
    listed = json.loads(cli("executions", "--db", str(db), "--json").stdout)["executions"]
    assert [e["name"] for e in listed] == [LONG_NAME, "open-8", "done-7"]
    assert listed[0] == {
        "executionArn": arn("CallCenterLoop", LONG_NAME),
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:CallCenterLoop",
        "name": LONG_NAME,
        "status": "RUNNING",
        "startDate": listed[0]["startDate"],
    }
    assert listed[2]["status"] == "SUCCEEDED" and listed[2]["stopDate"] >= listed[2]["startDate"]
    limited = json.loads(cli("executions", "--db", str(db), "--json", "--limit", "1").stdout)
    assert len(limited["executions"]) == 1


def test_describe_prints_the_execution_result_shape(db: Path) -> None:
    done = cli("describe", "done-7", "--db", str(db))
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)
    assert list(described) == [
        "executionArn",
        "stateMachineArn",
        "name",
        "status",
        "output",
        "startDate",
        "stopDate",
    ]
    assert described["status"] == "SUCCEEDED"
    assert described["output"]["Message"].endswith("closed.")
    with_input = json.loads(cli("describe", "done-7", "--db", str(db), "--with-input").stdout)
    assert with_input == {**described, "input": {"inputCaseID": "7"}}
    running = json.loads(cli("describe", "open-8", "--db", str(db)).stdout)
    assert running["status"] == "RUNNING" and "stopDate" not in running


def test_describe_history_and_stop_take_the_arn_that_submit_prints(db: Path) -> None:
    by_arn = cli("describe", arn("CallCenterStateMachine", "done-7"), "--db", str(db))
    assert by_arn.returncode == 0, by_arn.stderr
    assert json.loads(by_arn.stdout) == json.loads(
        cli("describe", "done-7", "--db", str(db)).stdout
    )
    history = cli("history", arn("CallCenterStateMachine", "done-7"), "--db", str(db), "--json")
    assert history.returncode == 0 and json.loads(history.stdout)["events"][0]["id"] == 1
    stop = cli("stop", arn("CallCenterStateMachine", "done-7"), "--db", str(db))
    assert stop.returncode == 2 and "is not running (it is SUCCEEDED)" in stop.stderr
    unknown = cli("describe", arn("CallCenterStateMachine", "nope"), "--db", str(db))
    assert unknown.returncode == 2
    assert f"no execution with ARN '{arn('CallCenterStateMachine', 'nope')}'" in unknown.stderr
    other = cli(
        "describe", arn("CallCenterStateMachine", "done-7"), "--state-machine", "CallCenterLoop"
    )
    assert other.returncode == 2


def test_history_is_one_row_per_step_at_80_columns(db: Path) -> None:
    table = cli("history", "done-7", "--db", str(db))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("done-7: SUCCEEDED in ") and lines[0].endswith(", 5 steps")
    assert lines[2].split() == ["ID", "TYPE", "STATUS", "DURATION", "TRIES", "STATE"]
    # Fixed columns up to the state name, which takes the rest of the row.
    rows = [(line[6:14].strip(), line[16:25].strip(), line[44:]) for line in lines[3:]]
    assert rows == [
        ("Task", "succeeded", "Open Case"),
        ("Task", "succeeded", "Assign Case"),
        ("Task", "succeeded", "Work on Case"),
        ("Choice", "succeeded", "Is Case Resolved"),
        ("Task", "succeeded", "Close Case"),
    ]
    assert all(line[27:35].strip().endswith(" ms") for line in lines[3:])
    assert max(len(line) for line in lines) <= 80
    with_io = cli("history", "done-7", "--db", str(db), "--with-io").stdout.splitlines()
    assert '      in:  {"inputCaseID":"7"}' in with_io
    assert sum(line.startswith("      out: {") for line in with_io) == 5
    assert max(len(line) for line in with_io) <= 80


def test_history_as_aws_json(db: Path) -> None:
    events = json.loads(cli("history", "done-7", "--db", str(db), "--json").stdout)["events"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["executionStartedEventDetails"]["roleArn"].endswith(
        "StepFunctions-CallCenterStateMachine-role"
    )


def test_unknown_names_and_missing_stores_exit_2(db: Path, tmp_path: Path) -> None:
    missing = cli("describe", "nope", "--db", str(db))
    assert missing.returncode == 2 and "no execution named 'nope'" in missing.stderr
    no_store = cli("executions", "--db", str(tmp_path / "absent.db"))
    assert no_store.returncode == 2 and "no execution store" in no_store.stderr
    not_running = cli("stop", "done-7", "--db", str(db))
    assert not_running.returncode == 2 and "not running" in not_running.stderr
