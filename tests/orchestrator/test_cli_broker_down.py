"""With RabbitMQ down (a closed port): one clear line per retry period, then one error.

The commands that need the broker give up after their wait with exit code 4; the service
waits as long as it takes and still stops at once on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import messages
from orchestrator.definitions import load_definitions
from orchestrator.engine import Engine
from orchestrator.store import SqliteStore

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    """A local port where nothing listens (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _store_with_a_running_execution(path: Path) -> None:
    store = SqliteStore(path)
    engine = Engine(load_definitions(REPO / "definitions"), store)
    engine.start(
        messages.IntakeRequest(
            state_machine="CallCenterLoop", execution_name="open-1", input={"inputCaseID": "1"}
        )
    )
    store.close()


def test_commands_give_up_after_their_wait_with_one_line_per_period(tmp_path: Path) -> None:
    port = _closed_port()
    env = {**os.environ, "AMQP_URL": f"amqp://guest:secret@127.0.0.1:{port}/", "COLUMNS": "200"}
    db = tmp_path / "sfn.db"
    _store_with_a_running_execution(db)
    commands = {
        "submit": ["submit", '{"inputCaseID": "1"}'],
        "send-task-success": ["send-task-success", "--task-token", "t", "--output", "{}"],
        "stop": ["stop", "open-1", "--db", str(db)],
        "dead-letters list": ["dead-letters", "list", "--queue", "intake"],
        "dead-letters republish": ["dead-letters", "republish", "--queue", "intake"],
    }
    started = time.monotonic()
    # All at once: each waits its 10 s for the broker.
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "orchestrator", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    url = f"amqp://guest:***@127.0.0.1:{port}/"
    for name, process in running.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 4, (name, out, err)
        lines = err.strip().splitlines()
        assert lines[-1] == (
            f"error: RabbitMQ at {url} is not reachable (Connection refused); gave up after 10s"
        ), (name, err)
        waiting = lines[:-1]
        assert 1 <= len(waiting) <= 2, (name, err)  # at 0 s and 5 s
        for line in waiting:
            assert line == (
                f"RabbitMQ at {url} is not reachable (Connection refused);"
                " retrying every 5s for up to 10s"
            ), (name, err)
        assert "secret" not in out + err and out == "", (name, out)
    assert time.monotonic() - started < 30


def test_the_service_waits_for_the_broker_and_stops_at_once_on_sigterm(tmp_path: Path) -> None:
    port = _closed_port()
    log = tmp_path / "orchestrator.log"
    env = {**os.environ, "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{port}/"}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "--db",
                str(tmp_path / "sfn.db"),
                "--api-port",
                "0",
            ],
            cwd=REPO,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while "is not reachable" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1)
            process.send_signal(signal.SIGTERM)
            asked = time.monotonic()
            assert process.wait(timeout=10) == 0, log.read_text()
            assert time.monotonic() - asked < 3
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = log.read_text()
    assert output.count("is not reachable (Connection refused); retrying every 5s") == 1, output
    assert "orchestrator stopped before it was connected to RabbitMQ" in output
    assert "Traceback" not in output and "error when creating transport" not in output
