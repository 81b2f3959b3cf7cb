"""``python -m orchestrator run`` and ``validate`` as a user runs them: real processes, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = "definitions/CallCenterStateMachine.asl.json"
RESOLVED = "WorkOnCaseFunction=tests.fixtures.handlers.always_resolved:work_on_case"
UNRESOLVED = "WorkOnCaseFunction=tests.fixtures.handlers.always_resolved:never_resolved"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_a_resolved_case_exits_0_with_the_output() -> None:
    done = cli("run", TUTORIAL, "--input", '{"inputCaseID": "001"}', "--handler", RESOLVED)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # The execution-result shape that submit and describe print too.
    assert list(result) == [
        "executionArn",
        "stateMachineArn",
        "name",
        "status",
        "output",
        "startDate",
        "stopDate",
    ]
    assert result["stateMachineArn"].endswith(":stateMachine:CallCenterStateMachine")
    assert result["name"] == "local"
    assert result["status"] == "SUCCEEDED"
    assert result["output"] == {
        "Case": "001",
        "Status": 1,
        "Message": "Case 001: opened...assigned...resolved...closed.",
    }


def test_run_an_escalated_case_exits_1_with_error_and_cause() -> None:
    done = cli(
        "run", TUTORIAL, "--input", '{"inputCaseID": "002"}', "--handler", UNRESOLVED, "--history"
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["cause"]) == ("FAILED", "Engage Tier 2 Support.")
    assert "error" not in result and "output" not in result, "only the fields that are set"
    assert result["stopDate"] >= result["startDate"]
    types = [event["type"] for event in result["history"]]
    assert types[-2:] == ["FailStateEntered", "ExecutionFailed"]
    escalated = [e for e in result["history"] if e["type"] == "TaskStateExited"][-1]
    assert json.loads(escalated["stateExitedEventDetails"]["output"])["Message"] == (
        "Case 002: opened...assigned...unresolved...escalating."
    )


def test_run_the_loop_variant_always_closes() -> None:
    done = cli("run", "definitions/CallCenterLoop.asl.json", "--input", '{"inputCaseID": "003"}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"]["Message"].endswith("resolved...closed.")


def test_run_with_input_from_a_file(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text('{"inputCaseID": "004"}')
    done = cli("run", TUTORIAL, "--input", f"@{case}", "--handler", RESOLVED)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"]["Case"] == "004"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", TUTORIAL, "--input", "{not json"], "--input is not JSON"),
        (["run", "tests/fixtures/many-problems.asl.json"], "12 problem(s)"),
        (
            ["run", "tests/fixtures/tutorial-trailing-comma.asl.json"],
            "tutorial-trailing-comma.asl.json:44:5: INVALID_JSON",
        ),
        (["run", TUTORIAL, "--handler", "nonsense"], "expected NAME=module:function"),
        (["run", TUTORIAL, "--handler", "F=no.such.module:f"], "No module named"),
        (["run", "no-such-file.asl.json"], "UNREADABLE_FILE"),
    ],
)
def test_invalid_definition_input_or_option_exits_2(args: list[str], message: str) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert message in done.stderr


def test_an_input_the_open_function_rejects_fails_with_validation_error() -> None:
    done = cli("run", TUTORIAL, "--input", '{"caseId": 1}')
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["error"] == "ValidationError"
    assert "inputCaseID" in json.loads(result["cause"])["errorMessage"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit", "[1, 2]"], "INPUT must be a JSON object"),
        (["submit", "{oops"], "INPUT is not JSON"),
        (["submit", '{"a": ' + "[" * 200 + "]" * 200 + "}"], "more than 128 levels deep"),
        (["send-task-success", "--task-token", "t", "--output", "{oops"], "--output is not JSON"),
    ],
)
def test_submit_and_callbacks_check_their_input_before_the_broker(
    args: list[str], message: str
) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert message in done.stderr


def test_validate_lists_problems_and_exits_2() -> None:
    done = cli("validate", "tests/fixtures/many-problems.asl.json", TUTORIAL)
    assert done.returncode == 2
    assert f"{TUTORIAL}: valid" in done.stdout
    assert done.stderr.count("tests/fixtures/many-problems.asl.json:") == 13  # header + 12 problems
    ok = cli("validate", TUTORIAL, "definitions/CallCenterLoop.asl.json")
    assert ok.returncode == 0


def test_validate_warns_of_a_variable_no_state_assigns_before_it(tmp_path: Path) -> None:
    file = tmp_path / "Reads.asl.json"
    file.write_text(
        json.dumps(
            {
                "QueryLanguage": "JSONata",
                "StartAt": "Start",
                "States": {
                    "Start": {"Type": "Pass", "Assign": {"a": 1}, "Next": "Use"},
                    "Use": {"Type": "Pass", "Output": "{% $a + $b %}", "End": True},
                },
            },
            indent=2,
        )
    )
    done = cli("validate", str(file))
    assert done.returncode == 0  # AWS creates it; the state fails when it runs
    assert f"warning: {file}:" in done.stdout
    assert "UNASSIGNED_VARIABLE at /States/Use/Output (state 'Use'): state 'Use' reads $b" in (
        done.stdout
    )
    assert "$a" not in done.stdout


def test_the_service_refuses_to_start_with_a_bad_definition(tmp_path: Path) -> None:
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "Good.asl.json").write_text((REPO / TUTORIAL).read_text())
    (folder / "Bad.asl.json").write_text(
        (REPO / "tests/fixtures/many-problems.asl.json").read_text()
    )
    done = cli("--definitions", str(folder), "--db", str(tmp_path / "sfn.db"))
    assert done.returncode == 2
    assert "Bad.asl.json: 12 problem(s)" in done.stderr
    assert not (tmp_path / "sfn.db").exists()
