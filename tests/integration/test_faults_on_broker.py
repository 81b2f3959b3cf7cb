"""Faults of the orchestrator itself, on real processes: no message loops, no execution hangs.

- A message that kills the orchestrator while it is applied is dead-lettered with "crashed
  the orchestrator" after its second crash at most, the messages that were in flight with it
  still run, and an execution whose task result it was fails saying so.
- An error while a task result is applied (a bug of ours) fails that execution with
  States.Runtime at once, instead of the result being redelivered until the broker's
  delivery limit while the execution stays RUNNING.

The orchestrator here is the real service with faults planted by
``tests.fixtures.faulty_orchestrator``, restarted after each death as a supervisor would.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from broker import INTAKE_QUEUE, TASK_RESULTS_QUEUE, Topology
from messages.executions import EXECUTION_NAME_HEADER, STATE_MACHINE_HEADER
from orchestrator.cli.dead_letters import list_dead_letters
from orchestrator.store import SqliteStore
from tests.integration.amqp import purge_function_queues
from tests.processes import Service, start

pytestmark = pytest.mark.integration
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
ECHO = {
    "StartAt": "T",
    "States": {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:SlowFunction",
            "End": True,
        }
    },
}


def crashing_orchestrator(env: dict[str, str], tmp: Path, run: int) -> Service:
    return start(
        f"orchestrator-{run}",
        [
            "tests.fixtures.faulty_orchestrator",
            "--definitions",
            str(tmp / "definitions"),
            "--db",
            str(tmp / "sfn.db"),
            "--api-port",
            "0",
        ],
        env,
        tmp,
    )


async def publish_starts(url: str, names: list[str], poison: str) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(INTAKE_QUEUE)
        for name in names:
            body: dict[str, Any] = {"crash": True} if name == poison else {"n": name}
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps(body).encode(),
                    headers={STATE_MACHINE_HEADER: "Pass", EXECUTION_NAME_HEADER: name},
                ),
                routing_key=INTAKE_QUEUE,
            )
    finally:
        await connection.close()


async def purge(url: str) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    intake = await Topology(channel).work_queue(INTAKE_QUEUE)
    await intake.purge()
    for name in (INTAKE_QUEUE, TASK_RESULTS_QUEUE):
        dead = await channel.declare_queue(
            name + ".dead-letter", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead.purge()
    await purge_function_queues(channel, ["SlowFunction"])
    await connection.close()


def supervise(
    env: dict[str, str], tmp: Path, done: Any, runs: list[Service], limit: int = 6
) -> list[Service]:
    """Start the orchestrator again each time it dies, until ``done()`` or ``limit`` runs.

    The runs go into ``runs`` as they start, so a caller stops them whatever happens here
    (a leaked orchestrator would take the next tests' messages on the shared broker)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not done():
        if not runs or runs[-1].process.poll() is not None:
            assert len(runs) < limit, "the orchestrator kept dying:\n" + runs[-1].output()
            runs.append(crashing_orchestrator(env, tmp, len(runs)))
        time.sleep(0.1)
    return runs


@pytest.mark.parametrize("company", [0, 5], ids=["alone", "in-a-batch"])
def test_a_message_that_kills_the_orchestrator_is_set_aside(
    amqp_url: str, tmp_path: Path, company: int
) -> None:
    write_definitions(tmp_path)
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    asyncio.run(purge(amqp_url))
    tag = time.time_ns()
    poison = f"poison-{tag}"
    names = [f"fine-{tag}-{i}" for i in range(company)]
    names.insert(company // 2, poison)
    # Published while no orchestrator runs, so the first one takes them in one batch.
    asyncio.run(publish_starts(amqp_url, names, poison))

    def dead_lettered() -> list[Any]:
        letters = asyncio.run(list_dead_letters(amqp_url, [INTAKE_QUEUE]))
        return [letter for letter in letters if "crashed the orchestrator" in letter.reason]

    runs: list[Service] = []
    try:
        supervise(env, tmp_path, dead_lettered, runs)
        [letter] = dead_lettered()
        assert json.loads(letter.body) == {"crash": True}
        # Two deaths alone, after one in company: never twenty.
        assert len(runs) <= (3 if company == 0 else 4), [run.output()[-2000:] for run in runs]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            store = SqliteStore(tmp_path / "sfn.db")
            try:
                done = {s.execution_name: s.status for s in store.executions()}
            finally:
                store.close()
            if len(done) == company:
                break
            time.sleep(0.2)
        assert done == dict.fromkeys(names[: company // 2] + names[company // 2 + 1 :], "SUCCEEDED")
        assert runs[-1].process.poll() is None  # the last one keeps serving
    finally:
        for run in runs:
            run.stop()


def write_definitions(tmp: Path) -> None:
    (tmp / "definitions").mkdir()
    (tmp / "definitions" / "Pass.asl.json").write_text(json.dumps(PASS))
    (tmp / "definitions" / "Echo.asl.json").write_text(json.dumps(ECHO))


def execution(db: Path, name: str, timeout: float = 30) -> Any:
    """The execution's state once it has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = SqliteStore(db)
        try:
            found = store.executions(name=name)
        finally:
            store.close()
        if found and found[0].status != "RUNNING":
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"execution {name} did not end")


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        ("raise", "An internal error occurred while applying a task result: ArithmeticError"),
        ("die", "A task result for this execution crashed the orchestrator"),
    ],
)
def test_a_task_result_the_orchestrator_cannot_apply_fails_its_execution(
    amqp_url: str, tmp_path: Path, fault: str, cause: str
) -> None:
    write_definitions(tmp_path)
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    asyncio.run(purge(amqp_url))
    worker = start(
        "worker", ["workers", "SlowFunction", "--import", "tests.fixtures.functions"], env, tmp_path
    )
    runs: list[Service] = []
    try:
        worker.wait_for("started ")
        name = f"{fault}-{time.time_ns()}"
        asyncio.run(publish_start(amqp_url, "Echo", name, {"seconds": 0, fault: True}))

        def ended() -> bool:
            db = tmp_path / "sfn.db"
            if not db.exists() or db.stat().st_size == 0:
                return False  # the orchestrator has not written it yet
            store = SqliteStore(db)
            try:
                return any(s.status != "RUNNING" for s in store.executions(name=name))
            finally:
                store.close()

        supervise(env, tmp_path, ended, runs)
        state = execution(tmp_path / "sfn.db", name)
        assert (state.status, state.error) == ("FAILED", "States.Runtime")
        assert state.cause.startswith(cause), state.cause
        if fault == "die":
            dead = asyncio.run(list_dead_letters(amqp_url, [TASK_RESULTS_QUEUE]))
            assert any("crashed the orchestrator" in letter.reason for letter in dead)
            assert len(runs) <= 3
        else:
            assert len(runs) == 1, "a fault that raises must not kill the orchestrator"
            log = runs[0].output()
            assert log.count("applying a task result to") == 1, "applied once, not redelivered"
        assert runs[-1].process.poll() is None
    finally:
        for run in runs:
            run.stop()
        worker.stop()


async def publish_start(url: str, machine: str, name: str, data: dict[str, Any]) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(INTAKE_QUEUE)
        await channel.default_exchange.publish(
            aio_pika.Message(
                json.dumps(data).encode(),
                headers={STATE_MACHINE_HEADER: machine, EXECUTION_NAME_HEADER: name},
            ),
            routing_key=INTAKE_QUEUE,
        )
    finally:
        await connection.close()
