"""The worker wire contract from another language: the Node.js worker of examples/node-worker
runs the AWS tutorial's call-center handlers unchanged, as real processes on the real broker.

No Python worker runs here: the five function queues have no consumer before the Node.js
worker starts, and exactly one (it) after. Its dependencies are installed with ``npm ci``
when ``node_modules`` is missing. Without node and npm the test is skipped, saying so; under
CI it fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from broker import Topology, function_queue
from orchestrator.cli import client
from orchestrator.store import SqliteStore
from tests.integration.amqp import FUNCTIONS, purge_function_queues
from tests.processes import REPO, Service, start_orchestrator

pytestmark = pytest.mark.integration

FOLDER = REPO / "examples" / "node-worker"
FAILING_HANDLER = """\
// Test handlers in the three ways a Lambda handler answers: callback, throw, async.
exports.handler = (event, context, callback) => {
  if (event.mode === "callback-error") {
    const error = new Error("no case " + event.case);
    error.name = "CaseNotFound";
    callback(error);
  } else if (event.mode === "throw") {
    null.boom;
  } else {
    return Promise.resolve({ mode: event.mode, by: context.functionName });
  }
};
"""
NODE_ONE = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NodeTestFunction",
            "Catch": [{"ErrorEquals": ["CaseNotFound"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


def _node_or_skip() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, npm
    message = "the Node.js worker test needs node and npm on PATH (https://nodejs.org)"
    if os.environ.get("CI"):
        pytest.fail(message + " under CI")
    pytest.skip(message)


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with the example's dependencies installed (``npm ci``) if missing."""
    node, npm = _node_or_skip()
    if not (FOLDER / "node_modules" / "amqplib").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=FOLDER,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return node


@pytest.fixture
def env(amqp_url: str) -> dict[str, str]:
    return {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def node_worker() -> Iterator[list[Service]]:
    """The Node.js worker processes a test started; each is stopped with SIGTERM after, and
    must exit 0 (a graceful stop)."""
    started: list[Service] = []
    yield started
    for service in started:
        code = service.stop()
        assert code == 0, f"the Node.js worker did not stop cleanly:\n{service.output()}"


def _start_node(
    node: str, args: list[str], env: dict[str, str], log_dir: Path, name: str
) -> Service:
    log = log_dir / f"{name}.log"
    process = subprocess.Popen(
        [node, "worker.js", *args],
        cwd=FOLDER,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Service(name, process, log)


async def _consumers(url: str, functions: list[str]) -> dict[str, int]:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        topology = Topology(channel)
        counts = {}
        for name in functions:
            queue = await topology.work_queue(function_queue(name))
            declared = await channel.declare_queue(queue.name, passive=True)
            counts[name] = declared.declaration_result.consumer_count or 0
        return counts
    finally:
        await connection.close()


async def _purge(url: str, functions: list[str]) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await purge_function_queues(channel, functions)
    await connection.close()


def test_the_tutorial_handlers_run_unchanged_in_node(
    node: str, env: dict[str, str], node_worker: list[Service], tmp_path: Path
) -> None:
    url = env["AMQP_URL"]
    asyncio.run(_purge(url, list(FUNCTIONS)))
    idle = asyncio.run(_consumers(url, list(FUNCTIONS)))
    assert idle == dict.fromkeys(FUNCTIONS, 0), "another worker serves these queues"
    db = tmp_path / "sfn.db"
    orchestrator = start_orchestrator(env, tmp_path, db)
    try:
        worker = _start_node(node, [], env, tmp_path, "node-worker")
        node_worker.append(worker)
        for name in FUNCTIONS:
            worker.wait_for(f"started {name}: consuming lambda.{name}")
        assert asyncio.run(_consumers(url, list(FUNCTIONS))) == dict.fromkeys(FUNCTIONS, 1)

        async def run_cases() -> list[dict[str, Any]]:
            results: list[dict[str, Any]] = []
            # Work on Case draws resolved or not at random: run until both ends were seen.
            for i in range(30):
                case = f"n{i:02d}-{uuid.uuid4().hex[:6]}"
                results.append(
                    await client.submit(
                        {"inputCaseID": case},
                        url=url,
                        execution_name=f"node-{case}",
                        timeout=30,
                    )
                )
                if {r["status"] for r in results} == {"SUCCEEDED", "FAILED"}:
                    break
            return results

        results = asyncio.run(run_cases())
    finally:
        orchestrator.stop()
    assert {r["status"] for r in results} == {"SUCCEEDED", "FAILED"}, worker.output()
    store = SqliteStore(db)
    try:
        for result in results:
            case = result["name"].removeprefix("node-")
            if result["status"] == "SUCCEEDED":
                assert result["output"] == {
                    "Case": case,
                    "Status": 1,
                    "Message": f"Case {case}: opened...assigned...resolved...closed.",
                }
                continue
            assert result["cause"] == "Engage Tier 2 Support."
            exited = [
                e for e in store.history(result["executionArn"]) if e["type"] == "TaskStateExited"
            ]
            escalated = json.loads(exited[-1]["stateExitedEventDetails"]["output"])
            assert escalated == {
                "Case": case,
                "Status": 0,
                "Message": f"Case {case}: opened...assigned...unresolved...escalating.",
            }
    finally:
        store.close()


def test_node_errors_map_to_asl_errors_as_lambda_errors_do(
    node: str, env: dict[str, str], node_worker: list[Service], tmp_path: Path
) -> None:
    url = env["AMQP_URL"]
    asyncio.run(_purge(url, ["NodeTestFunction"]))
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "NodeOne.asl.json").write_text(json.dumps(NODE_ONE))
    handler = tmp_path / "failing.js"
    handler.write_text(FAILING_HANDLER)
    orchestrator = start_orchestrator(env, tmp_path, tmp_path / "sfn.db", definitions)
    try:
        worker = _start_node(node, [f"NodeTestFunction={handler}"], env, tmp_path, "node-test")
        node_worker.append(worker)
        worker.wait_for("started NodeTestFunction")

        async def run(mode: str) -> dict[str, Any]:
            return await client.submit(
                {"mode": mode, "case": 42},
                url=url,
                state_machine="NodeOne",
                execution_name=f"{mode}-{uuid.uuid4().hex[:8]}",
                timeout=30,
            )

        answered = asyncio.run(run("async"))
        caught = asyncio.run(run("callback-error"))
        thrown = asyncio.run(run("throw"))
    finally:
        orchestrator.stop()
    assert answered["status"] == "SUCCEEDED"
    assert answered["output"] == {"mode": "async", "by": "NodeTestFunction"}
    # callback(error): Catch matches the error's name; the cause is Lambda's error JSON.
    assert caught["status"] == "SUCCEEDED", caught
    error = caught["output"]["error"]
    assert error["Error"] == "CaseNotFound"
    cause = json.loads(error["Cause"])
    assert (cause["errorType"], cause["errorMessage"]) == ("CaseNotFound", "no case 42")
    assert any("failing.js" in line for line in cause["stackTrace"])
    # An uncaught throw fails the execution with the JavaScript error's name.
    assert (thrown["status"], thrown["error"]) == ("FAILED", "TypeError")
    assert "Cannot read properties of null" in json.loads(thrown["cause"])["errorMessage"]
