"""The ASL beyond the tutorial on the real broker: Retry, Catch, TimeoutSeconds, Map, task tokens.

The orchestrator and one worker per test function run as OS processes; the assertions read
the execution results from RabbitMQ and the histories from the orchestrator's SQLite store.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli.client import submit
from tests.integration.amqp import purge_function_queues
from tests.integration.token_stack import approval
from tests.processes import REPO, Service, start

pytestmark = pytest.mark.integration
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
FUNCTIONS = (
    "FlakyFunction",
    "CustomErrorFunction",
    "SlowFunction",
    "ItemFunction",
    "TokenRecorder",
)

DEFINITIONS: dict[str, dict[str, Any]] = {
    "RetryTwice": {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "FlakyFunction",
                "Retry": [
                    {
                        "ErrorEquals": ["Flaky"],
                        "IntervalSeconds": 1,
                        "BackoffRate": 1.0,
                        "MaxAttempts": 3,
                    }
                ],
                "End": True,
            }
        },
    },
    "CatchCustom": {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "CustomErrorFunction",
                "Catch": [
                    {"ErrorEquals": ["Flaky"], "Next": "Wrong"},
                    {"ErrorEquals": ["OrderNotFound"], "ResultPath": "$.error", "Next": "Handled"},
                ],
                "End": True,
            },
            "Wrong": {"Type": "Fail", "Error": "WrongCatcher"},
            "Handled": {"Type": "Pass", "End": True},
        },
    },
    "TooSlow": {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "SlowFunction",
                "TimeoutSeconds": 1,
                "End": True,
            }
        },
    },
    "HundredItems": {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 5,
                "ItemProcessor": {
                    "StartAt": "Double",
                    "States": {
                        "Double": {"Type": "Task", "Resource": LAMBDA + "ItemFunction", "End": True}
                    },
                },
                "End": True,
            }
        },
    },
    "Approval": approval(heartbeat_seconds=30),
    # JSONata: Arguments, Items, ItemSelector, MaxConcurrency as an expression, Output, Assign,
    # and a Catch whose Output and Assign read $states.errorOutput.
    "JsonataItems": {
        "QueryLanguage": "JSONata",
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.numbers %}",
                "ItemSelector": "{% $states.context.Map.Item.Value + $states.input.offset %}",
                "MaxConcurrency": "{% $states.input.width %}",
                "ItemProcessor": {
                    "StartAt": "Double",
                    "States": {
                        "Double": {"Type": "Task", "Resource": LAMBDA + "ItemFunction", "End": True}
                    },
                },
                "Assign": {"total": "{% $sum($states.result) %}"},
                "Next": "Order",
            },
            "Order": {
                "Type": "Task",
                "Resource": LAMBDA + "CustomErrorFunction",
                "Arguments": {"orderId": "{% $string($total) %}"},
                "Catch": [
                    {
                        "ErrorEquals": ["OrderNotFound"],
                        "Assign": {"why": "{% $states.errorOutput.Error %}"},
                        "Output": {
                            "doubled": "{% $states.input %}",
                            "cause": "{% $parse($states.errorOutput.Cause).errorMessage %}",
                        },
                        "Next": "Report",
                    }
                ],
                "End": True,
            },
            "Report": {
                "Type": "Pass",
                "Output": "{% $merge([$states.input, {'total': $total, 'why': $why}]) %}",
                "End": True,
            },
        },
    },
}


@pytest.fixture(scope="module")
def stack(
    amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The orchestrator on these definitions, one worker per function (three for items)."""
    tmp = tmp_path_factory.mktemp("asl-broker")
    definitions = tmp / "definitions"
    definitions.mkdir()
    for name, document in DEFINITIONS.items():
        (definitions / f"{name}.asl.json").write_text(json.dumps(document, indent=2))
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    asyncio.run(_purge(amqp_url))
    services: list[Service] = []
    try:
        services.append(
            start(
                "orchestrator",
                [
                    "orchestrator",
                    "--definitions",
                    str(definitions),
                    "--db",
                    str(tmp / "sfn.db"),
                    "--api-port",
                    "0",
                ],
                env,
                tmp,
            )
        )
        for name in FUNCTIONS:
            copies = 3 if name == "ItemFunction" else 1
            for i in range(copies):
                services.append(
                    start(
                        f"{name}-{i}",
                        ["workers", name, "--import", "tests.fixtures.functions"],
                        env,
                        tmp,
                    )
                )
        for service in services:
            service.wait_for(
                "orchestrator serving" if service.name == "orchestrator" else "started "
            )
        yield tmp, env
    finally:
        for service in services:
            service.stop()


async def _purge(url: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    await purge_function_queues(await connection.channel(), FUNCTIONS)
    await connection.close()


def history(db: Path, name: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT h.event FROM history h JOIN executions e ON e.id = h.execution"
            " WHERE e.name = ? ORDER BY h.id",
            (name,),
        ).fetchall()
    return [json.loads(row[0]) for row in rows]


def run(
    amqp_url: str, machine: str, data: dict[str, Any], name: str, timeout: float = 60
) -> dict[str, Any]:
    return asyncio.run(
        submit(data, url=amqp_url, state_machine=machine, execution_name=name, timeout=timeout)
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


def test_a_task_failing_twice_succeeds_under_retry(
    stack: tuple[Path, dict[str, str]], amqp_url: str
) -> None:
    tmp, _ = stack
    name = unique("retry")
    result = run(amqp_url, "RetryTwice", {}, name)
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"succeededOnAttempt": 2}
    events = history(tmp / "sfn.db", name)
    types = [e["type"] for e in events]
    assert types.count("LambdaFunctionScheduled") == 3
    assert types.count("LambdaFunctionFailed") == 2
    scheduled = [e["timestamp"] for e in events if e["type"] == "LambdaFunctionScheduled"]
    assert scheduled[1] > scheduled[0] and scheduled[2] > scheduled[1]


def test_a_custom_error_is_caught_by_name(
    stack: tuple[Path, dict[str, str]], amqp_url: str
) -> None:
    result = run(amqp_url, "CatchCustom", {"orderId": 42}, unique("catch"))
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["orderId"] == 42
    assert result["output"]["error"]["Error"] == "OrderNotFound"
    cause = json.loads(result["output"]["error"]["Cause"])
    assert (cause["errorType"], cause["errorMessage"]) == ("OrderNotFound", "no order 42")


def test_a_task_past_its_timeout_fails_with_states_timeout(
    stack: tuple[Path, dict[str, str]], amqp_url: str
) -> None:
    started = time.monotonic()
    result = run(amqp_url, "TooSlow", {"seconds": 4}, unique("timeout"))
    assert (result["status"], result["error"]) == ("FAILED", "States.Timeout"), result
    assert time.monotonic() - started < 3.5, "failed by the timer, not by waiting for the worker"


def test_a_map_of_100_tasks_honours_max_concurrency(
    stack: tuple[Path, dict[str, str]], amqp_url: str
) -> None:
    tmp, _ = stack
    name = unique("map")
    result = run(amqp_url, "HundredItems", {"items": list(range(100))}, name, timeout=120)
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == [i * 2 for i in range(100)]
    in_flight = peak = 0
    for event in history(tmp / "sfn.db", name):
        if event["type"] == "MapIterationStarted":
            in_flight += 1
            peak = max(peak, in_flight)
        elif event["type"] in {"MapIterationSucceeded", "MapIterationFailed"}:
            in_flight -= 1
    assert peak == 5, "at most MaxConcurrency iterations at once, and the limit is reached"


def test_a_jsonata_machine_runs_on_the_broker(
    stack: tuple[Path, dict[str, str]], amqp_url: str
) -> None:
    tmp, _ = stack
    name = unique("jsonata")
    data = {"numbers": list(range(10)), "offset": 1, "width": 3}
    result = run(amqp_url, "JsonataItems", data, name)
    assert result["status"] == "SUCCEEDED", result
    doubled = [(i + 1) * 2 for i in range(10)]
    assert result["output"] == {
        "doubled": doubled,
        "cause": f"no order {sum(doubled)}",
        "total": sum(doubled),
        "why": "OrderNotFound",
    }
    events = history(tmp / "sfn.db", name)
    exited = [e for e in events if e["type"] == "MapStateExited"]
    assigned = exited[0]["stateExitedEventDetails"]["assignedVariables"]
    assert assigned == {"total": str(sum(doubled))}
    in_flight = peak = 0
    for event in events:
        if event["type"] == "MapIterationStarted":
            in_flight += 1
            peak = max(peak, in_flight)
        elif event["type"] == "MapIterationSucceeded":
            in_flight -= 1
    assert peak == 3


def test_wait_for_task_token_is_completed_by_the_cli(
    stack: tuple[Path, dict[str, str]], amqp_url: str
) -> None:
    tmp, env = stack
    token_file = tmp / f"token-{time.time_ns()}"

    async def approve_when_asked() -> dict[str, Any]:
        waiting = asyncio.create_task(
            submit(
                {"file": str(token_file)},
                url=amqp_url,
                state_machine="Approval",
                execution_name=unique("token"),
                timeout=60,
            )
        )
        for _ in range(200):
            if token_file.exists():
                break
            await asyncio.sleep(0.1)
        done = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "orchestrator",
                "send-task-success",
                "--task-token",
                token_file.read_text(),
                "--output",
                '{"approved": true}',
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return await waiting

    result = asyncio.run(approve_when_asked())
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"approved": True}
