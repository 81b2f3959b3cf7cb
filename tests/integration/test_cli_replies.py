"""``submit`` and ``send-task-*`` as a user runs them, against the real service and broker.

A refused start or callback is reported at once, as the AWS CLI reports it, with a non-zero
exit; a start whose result does not come in time names the execution and its ARN; the ARN
printed is one that ``describe`` finds.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest

from broker import TASK_RESULTS_QUEUE, Topology
from tests.integration.token_stack import approval, purge_token_queues, token_stack
from tests.processes import REPO

pytestmark = pytest.mark.integration

REGION, ACCOUNT = "eu-west-3", "111122223333"
APPROVAL = approval(heartbeat_seconds=60)
SLEEPY = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 600, "End": True}}}


def execution_arn(state_machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{state_machine}:{name}"


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def env(amqp_url: str) -> dict[str, str]:
    """The environment of the service and of the commands: one broker, one region/account."""
    return {
        **os.environ,
        "AMQP_URL": amqp_url,
        "PYTHONUNBUFFERED": "1",
        "SFN_REGION": REGION,
        "SFN_ACCOUNT": ACCOUNT,
        "COLUMNS": "200",
    }


@pytest.fixture(scope="module")
def service(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The orchestrator (Approval and Sleepy) and the TokenRecorder worker; yields the
    folder holding the store ``sfn.db``."""
    tmp = tmp_path_factory.mktemp("cli-replies")
    with token_stack(env, tmp, {"Approval": APPROVAL, "Sleepy": SLEEPY}):
        yield tmp


async def _task_results_consumers(url: str) -> int:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await Topology(channel).work_queue(TASK_RESULTS_QUEUE)
        declared = await channel.declare_queue(TASK_RESULTS_QUEUE, passive=True)
        return declared.declaration_result.consumer_count or 0
    finally:
        await connection.close()


def test_a_callback_nobody_answers_times_out_with_exit_3(env: dict[str, str]) -> None:
    """First in the file, before the module's service runs: nothing consumes the callback."""
    if asyncio.run(_task_results_consumers(env["AMQP_URL"])):
        pytest.fail(f"an orchestrator already consumes {TASK_RESULTS_QUEUE} on this vhost")
    done = cli(env, "send-task-heartbeat", "--task-token", "t" * 64, "--timeout", "1")
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("error: no answer from the orchestrator within 1s")
    asyncio.run(purge_token_queues(env["AMQP_URL"]))


def test_an_unknown_state_machine_is_refused_at_once(service: Path, env: dict[str, str]) -> None:
    started = time.monotonic()
    done = cli(env, "submit", "{}", "--state-machine", "Nope")
    assert time.monotonic() - started < 15, "answered, not waited out (the timeout is 60 s)"
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "An error occurred (StateMachineDoesNotExist) when calling the StartExecution"
        " operation: no state machine named 'Nope' (loaded: Approval, Sleepy)\n"
    )


def test_a_timeout_names_the_execution_and_an_arn_describe_finds(
    service: Path, env: dict[str, str]
) -> None:
    done = cli(env, "submit", '{"n": 1}', "--state-machine", "Sleepy", "--timeout", "1")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "error: no result within 1s; the execution may still be running."
    name = lines[1].split()[-1]
    assert lines[1] == f"  name:         {name}" and len(name) == 36, "a generated UUID"
    arn = execution_arn("Sleepy", name)
    assert lines[2] == f"  executionArn: {arn}"
    assert lines[3] == (
        f"Look it up later with: python -m orchestrator describe {name} --state-machine Sleepy"
    )
    described = cli(env, "describe", arn, "--db", str(service / "sfn.db"))
    assert described.returncode == 0, described.stderr
    assert json.loads(described.stdout)["status"] == "RUNNING"
    by_name = cli(
        env, "describe", name, "--state-machine", "Sleepy", "--db", str(service / "sfn.db")
    )
    assert json.loads(by_name.stdout) == json.loads(described.stdout)


def test_a_name_taken_with_another_input_is_refused_with_its_arn(
    service: Path, env: dict[str, str]
) -> None:
    name = f"taken-{time.time_ns()}"
    first = cli(
        env, "submit", '{"n": 1}', "--state-machine", "Sleepy", "--name", name, "--timeout", "1"
    )
    assert first.returncode == 3 and f"  name:         {name}" in first.stderr
    again = cli(env, "submit", '{"n": 2}', "--state-machine", "Sleepy", "--name", name)
    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        "An error occurred (ExecutionAlreadyExists) when calling the StartExecution operation:"
        f" execution '{name}' of 'Sleepy' already exists with a different input",
        f"The existing execution: {execution_arn('Sleepy', name)}",
    ]


def submit_approval(env: dict[str, str], name: str, token_file: Path) -> subprocess.Popen[str]:
    """``submit`` an Approval execution in the background (it waits for its callback)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "submit",
            json.dumps({"file": str(token_file)}),
            "--state-machine",
            "Approval",
            "--name",
            name,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_token(token_file: Path) -> str:
    """The task token the TokenRecorder worker wrote, once it has."""
    for _ in range(300):
        if token_file.exists() and token_file.read_text():
            break
        time.sleep(0.1)
    return token_file.read_text()


def test_callbacks_report_like_the_aws_cli(service: Path, env: dict[str, str]) -> None:
    name = f"approval-{time.time_ns()}"
    token_file = service / f"{name}.token"
    submitted = submit_approval(env, name, token_file)
    try:
        token = wait_for_token(token_file)
        beat = cli(env, "send-task-heartbeat", "--task-token", token)
        assert (beat.returncode, beat.stdout, beat.stderr) == (0, "", ""), beat.stderr
        success = cli(env, "send-task-success", "--task-token", token, "--output", '{"ok": true}')
        assert (success.returncode, success.stdout, success.stderr) == (0, "", ""), success.stderr
        out, err = submitted.communicate(timeout=60)
    finally:
        if submitted.poll() is None:
            submitted.kill()
    assert submitted.returncode == 0, err
    result = json.loads(out)
    assert (result["status"], result["output"]) == ("SUCCEEDED", {"ok": True})
    assert result["executionArn"] == execution_arn("Approval", name)

    used = cli(env, "send-task-success", "--task-token", token, "--output", "{}")
    assert (used.returncode, used.stdout) == (2, "")
    assert used.stderr == (
        "An error occurred (TaskDoesNotExist) when calling the SendTaskSuccess operation:"
        " Task Does Not Exist\n"
    )
    for command, operation in (
        (["send-task-failure", "--error", "E", "--cause", "c"], "SendTaskFailure"),
        (["send-task-heartbeat"], "SendTaskHeartbeat"),
    ):
        unknown = cli(env, *command, "--task-token", "0" * 64)
        assert unknown.returncode == 2
        assert unknown.stderr.startswith(
            f"An error occurred (TaskDoesNotExist) when calling the {operation} operation:"
        )


def test_submit_and_describe_print_one_result_shape(service: Path, env: dict[str, str]) -> None:
    name = f"shape-{time.time_ns()}"
    token_file = service / f"{name}.token"
    submitted = submit_approval(env, name, token_file)
    try:
        wait_for_token(token_file)
        failed = cli(
            env,
            "send-task-failure",
            "--task-token",
            token_file.read_text(),
            "--error",
            "Rejected",
            "--cause",
            "too expensive",
        )
        assert failed.returncode == 0, failed.stderr
        out, _ = submitted.communicate(timeout=60)
    finally:
        if submitted.poll() is None:
            submitted.kill()
    assert submitted.returncode == 1
    result = json.loads(out)
    assert list(result) == [
        "executionArn",
        "stateMachineArn",
        "name",
        "status",
        "error",
        "cause",
        "startDate",
        "stopDate",
    ]
    assert (result["status"], result["error"], result["cause"]) == (
        "FAILED",
        "Rejected",
        "too expensive",
    )
    described = cli(env, "describe", result["executionArn"], "--db", str(service / "sfn.db"))
    assert json.loads(described.stdout) == result


def _with(url: str, *, password: str | None = None, vhost: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if password is not None:
        netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port or 5672}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{vhost}" if vhost else parts.path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password": "not-the-password"}, "refused the login of user"),
        ({"vhost": "no-such-vhost-for-cli-tests"}, "refused to open virtual host"),
    ],
)
def test_a_refused_login_or_vhost_is_one_line_at_once(
    env: dict[str, str], change: dict[str, str], message: str, tmp_path: Path
) -> None:
    url = _with(env["AMQP_URL"], **change)
    broken = {**env, "AMQP_URL": url}
    started = time.monotonic()
    commands = [
        [sys.executable, "-m", "orchestrator", "dead-letters", "list", "--queue", "intake"],
        [sys.executable, "-m", "workers", "open"],
        [sys.executable, "-m", "orchestrator", "--db", str(tmp_path / "sfn.db"), "--api-port", "0"],
    ]
    for command in commands:
        done = subprocess.run(
            command, cwd=REPO, env=broken, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 4, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (command, done.stderr)
        assert "not-the-password" not in done.stderr
    assert time.monotonic() - started < 30, "no retrying what cannot succeed"
