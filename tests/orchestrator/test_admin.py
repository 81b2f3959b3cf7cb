"""The operator commands on a real store file: executions, describe, history (no broker)."""

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


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
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
        rows = store.outbox_messages(ids)
        store.delete_outbox(ids)
        if rows[0].exchange != "":
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
    engine.start(
        messages.IntakeRequest(
            state_machine="CallCenterLoop", execution_name="open-8", input={"inputCaseID": "8"}
        )
    )
    store.close()
    return path


def test_executions_lists_and_filters(db: Path) -> None:
    every = cli("executions", "--db", str(db))
    assert every.returncode == 0, every.stderr
    assert "done-7" in every.stdout and "open-8" in every.stdout
    running = cli("executions", "--db", str(db), "--status", "running")
    assert "open-8" in running.stdout and "done-7" not in running.stdout
    assert cli("executions", "--db", str(db), "--status", "bogus").returncode == 2


def test_describe_shows_status_input_and_output(db: Path) -> None:
    done = cli("describe", "done-7", "--db", str(db))
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)
    assert described["status"] == "SUCCEEDED"
    assert described["input"] == {"inputCaseID": "7"}
    assert described["output"]["Message"].endswith("closed.")
    running = json.loads(cli("describe", "open-8", "--db", str(db)).stdout)
    assert running["status"] == "RUNNING" and "stopDate" not in running


def test_history_as_a_table_and_as_aws_json(db: Path) -> None:
    table = cli("history", "done-7", "--db", str(db))
    assert table.returncode == 0, table.stderr
    for text in (
        "ExecutionStarted",
        "LambdaFunctionScheduled",
        "Is Case Resolved",
        "ExecutionSucceeded",
    ):
        assert text in table.stdout
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
