"""Stopping an execution and handling dead letters from the CLI, with the service running."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aio_pika
import pytest

from broker import DEAD_LETTER_SUFFIX, INTAKE_QUEUE, Topology
from messages.executions import STATE_MACHINE_HEADER
from orchestrator.cli.dead_letters import PREVIOUS_REASON_HEADER, DeadLetter, list_dead_letters
from tests.processes import REPO, Service, start_orchestrator

pytestmark = pytest.mark.integration


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_stop_aborts_a_running_execution(subprocess_env: dict[str, str], tmp_path: Path) -> None:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "Sleepy.asl.json").write_text(
        json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}})
    )
    db = tmp_path / "sfn.db"
    service: Service = start_orchestrator(subprocess_env, tmp_path, db, definitions)
    try:
        started = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "submit",
                "{}",
                "--state-machine",
                "Sleepy",
                "--name",
                "nap",
                "--timeout",
                "60",
            ],
            cwd=REPO,
            env=subprocess_env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(100):
            if "RUNNING" in cli(subprocess_env, "executions", "--db", str(db)).stdout:
                break
            time.sleep(0.1)
        # By the ARN, as submit prints it (the name works too).
        stopped = cli(
            subprocess_env,
            "stop",
            "arn:aws:states:us-east-1:123456789012:execution:Sleepy:nap",
            "--db",
            str(db),
            "--error",
            "Operator",
            "--cause",
            "not needed",
        )
        assert stopped.returncode == 0, stopped.stderr
        result = json.loads(started.communicate(timeout=60)[0])
        assert started.returncode == 1, "ABORTED is not a success"
        assert (result["status"], result["error"], result["cause"]) == (
            "ABORTED",
            "Operator",
            "not needed",
        )
        described = json.loads(cli(subprocess_env, "describe", "nap", "--db", str(db)).stdout)
        assert described["status"] == "ABORTED"
        history = json.loads(
            cli(subprocess_env, "history", "nap", "--db", str(db), "--json").stdout
        )["events"]
        assert history[-1]["type"] == "ExecutionAborted"
        with sqlite3.connect(db) as connection:
            assert connection.execute("SELECT COUNT(*) FROM timers").fetchone() == (0,), (
                "its timer is gone"
            )
    finally:
        service.stop()


def test_dead_letters_are_listed_and_republished(
    subprocess_env: dict[str, str], amqp_url: str
) -> None:
    async def prepare() -> None:
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel(publisher_confirms=True)
        topology = Topology(channel)
        queue = await topology.work_queue("lambda.RepublishProbe")
        await queue.purge()
        await (await channel.get_queue("lambda.RepublishProbe.dead-letter")).purge()
        incoming = await queue.get(fail=False)
        assert incoming is None
        await channel.default_exchange.publish(
            aio_pika.Message(b"probe-body"), routing_key="lambda.RepublishProbe"
        )
        message = await queue.get(no_ack=False)
        await topology.dead_letter(message, "lambda.RepublishProbe", "probe reason")
        await message.ack()
        await connection.close()

    asyncio.run(prepare())
    listed = cli(subprocess_env, "dead-letters", "list", "--queue", "lambda.RepublishProbe")
    assert listed.returncode == 0, listed.stderr
    assert "probe reason" in listed.stdout and "1 dead letter(s)" in listed.stdout
    again = cli(subprocess_env, "dead-letters", "list", "--queue", "lambda.RepublishProbe")
    assert "1 dead letter(s)" in again.stdout, "listing leaves them in place"
    moved = cli(subprocess_env, "dead-letters", "republish", "--queue", "lambda.RepublishProbe")
    assert "republished 1 message(s)" in moved.stdout, moved.stderr

    async def check() -> None:
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel()
        back = await (await channel.get_queue("lambda.RepublishProbe")).get(no_ack=True)
        assert back.body == b"probe-body"
        assert (back.headers or {}).get("x-previous-dead-letter-reason") == "probe reason"
        dead = await channel.get_queue("lambda.RepublishProbe.dead-letter")
        assert await dead.get(no_ack=True, fail=False) is None
        await channel.queue_delete("lambda.RepublishProbe")
        await channel.queue_delete("lambda.RepublishProbe.dead-letter")
        await connection.close()

    asyncio.run(check())


def test_republish_moves_only_the_letters_present_while_the_service_refuses_them_again(
    subprocess_env: dict[str, str], amqp_url: str, tmp_path: Path
) -> None:
    """Republished to ``intake``, a start the service refuses is dead-lettered again at
    once; the command must not take it a second time (it once moved 512 for 2 letters)."""

    async def dead_letter_two() -> None:
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(INTAKE_QUEUE)
        await (await channel.get_queue(INTAKE_QUEUE + DEAD_LETTER_SUFFIX)).purge()
        for case in ("1", "2"):
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps({"case": case}).encode(),
                    headers={STATE_MACHINE_HEADER: "NoSuchMachine"},
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=INTAKE_QUEUE,
            )
        await connection.close()

    def letters() -> list[DeadLetter]:
        return asyncio.run(list_dead_letters(amqp_url, [INTAKE_QUEUE]))

    def wait_for_two() -> list[DeadLetter]:
        for _ in range(100):
            found = letters()
            if len(found) >= 2:
                return found
            time.sleep(0.1)
        raise AssertionError(f"the service did not dead-letter both starts: {found}")

    service = start_orchestrator(subprocess_env, tmp_path, tmp_path / "sfn.db")
    try:
        asyncio.run(dead_letter_two())
        assert len(wait_for_two()) == 2
        moved = cli(subprocess_env, "dead-letters", "republish", "--queue", INTAKE_QUEUE)
        assert moved.returncode == 0, moved.stderr
        assert moved.stdout == f"republished 2 message(s) to {INTAKE_QUEUE}\n"
        again = wait_for_two()
        time.sleep(0.5)  # nothing more arrives: the command moved each letter once
        again = letters()
        assert sorted(json.loads(letter.body)["case"] for letter in again) == ["1", "2"]
        for letter in again:
            assert "StateMachineDoesNotExist" in letter.reason
            assert "StateMachineDoesNotExist" in str(letter.headers[PREVIOUS_REASON_HEADER])
        limited = cli(
            subprocess_env, "dead-letters", "republish", "--queue", INTAKE_QUEUE, "--limit", "1"
        )
        assert limited.stdout == (
            f"republished 1 message(s) to {INTAKE_QUEUE}; 1 of the 2 present stay dead-lettered\n"
        )
    finally:
        service.stop()
