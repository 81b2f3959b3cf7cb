"""The stack of the callback tests: an orchestrator whose machines wait for a task token,
and the TokenRecorder worker that writes each token where the test can read it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aio_pika

from broker import TASK_RESULTS_QUEUE, Topology
from tests.integration.amqp import purge_function_queues
from tests.processes import Service, start, start_orchestrator


def approval(heartbeat_seconds: int | None = None) -> dict[str, Any]:
    """A machine whose one Task waits for its token (the worker writes it to ``$.file``)."""
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": "TokenRecorder",
            "Payload": {"token.$": "$$.Task.Token", "file.$": "$.file"},
        },
        "End": True,
    }
    if heartbeat_seconds is not None:
        task["HeartbeatSeconds"] = heartbeat_seconds
    return {"StartAt": "Wait for approval", "States": {"Wait for approval": task}}


@contextmanager
def token_stack(
    env: dict[str, str], tmp: Path, machines: dict[str, dict[str, Any]]
) -> Iterator[Path]:
    """The orchestrator on ``machines`` and the TokenRecorder worker, on queues purged first;
    yields ``tmp``, which holds the store ``sfn.db``."""
    definitions = tmp / "definitions"
    definitions.mkdir()
    for name, document in machines.items():
        (definitions / f"{name}.asl.json").write_text(json.dumps(document))
    asyncio.run(purge_token_queues(env["AMQP_URL"]))
    services: list[Service] = []
    try:
        services.append(start_orchestrator(env, tmp, tmp / "sfn.db", definitions))
        worker = start(
            "TokenRecorder",
            ["workers", "TokenRecorder", "--import", "tests.fixtures.functions"],
            env,
            tmp,
        )
        services.append(worker)
        worker.wait_for("started ")
        yield tmp
    finally:
        for running in services:
            running.stop()


async def purge_token_queues(url: str) -> None:
    """Empty the TokenRecorder queue and the task results queue."""
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await purge_function_queues(channel, ["TokenRecorder"])
    await (await Topology(channel).work_queue(TASK_RESULTS_QUEUE)).purge()
    await connection.close()
