"""The ``python -m workers`` command line, for what needs no broker (a closed port stands
for a broker that is down)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer

from workers.__main__ import resolve


@pytest.mark.parametrize(
    ("name", "expected"),
    [("open", "OpenCaseFunction"), ("work", "WorkOnCaseFunction"), ("CloseCaseFunction",) * 2],
)
def test_short_and_full_names_resolve(name: str, expected: str) -> None:
    assert resolve(name).name == expected


def test_unknown_function_name_exits_2_listing_valid_names() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workers", "reopen"],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 2
    assert "reopen" in done.stderr
    for name in ("open", "assign", "work", "close", "escalate", "OpenCaseFunction"):
        assert name in done.stderr


def test_unknown_name_is_a_bad_parameter() -> None:
    with pytest.raises(typer.BadParameter, match="valid names: open, assign"):
        resolve("reopen")


def _closed_port() -> int:
    """A local port where nothing listens (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _run_worker_briefly(
    seconds: float, tmp_path: Path, wait_for: str | None = "is not reachable", **env: str
) -> tuple[int, str]:
    """Run ``python -m workers open`` with ``env`` until ``seconds`` after it logs
    ``wait_for``, then SIGTERM it; its exit code and output."""
    log = tmp_path / "worker.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers", "open"],
            env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1", **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while wait_for and wait_for not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(seconds)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    return process.returncode, log.read_text()


@pytest.mark.parametrize(
    ("level", "shown", "hidden"),
    [
        ("WARNING", ["WARNING broker.connection"], ["INFO workers"]),
        ("info", ["WARNING broker.connection", "INFO workers: received SIGTERM"], ["DEBUG"]),
        ("DEBUG", ["DEBUG aiormq.connection: Connecting to", "INFO workers: received"], []),
    ],
)
def test_workers_honour_log_level(
    level: str, shown: list[str], hidden: list[str], tmp_path: Path
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{_closed_port()}/"
    code, output = _run_worker_briefly(0.5, tmp_path, AMQP_URL=url, LOG_LEVEL=level)
    assert code == 0, output
    for text in shown:
        assert text in output, output
    for text in hidden:
        assert text not in output, output


def test_an_invalid_log_level_exits_2_naming_the_valid_ones() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workers", "open"],
        env={**os.environ, "COLUMNS": "200", "LOG_LEVEL": "LOUD"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 2
    assert "LOG_LEVEL 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in done.stderr


def test_a_down_broker_gives_one_line_per_retry_period_and_no_traceback(
    tmp_path: Path,
) -> None:
    port = _closed_port()
    code, output = _run_worker_briefly(
        6.5, tmp_path, AMQP_URL=f"amqp://guest:secret@127.0.0.1:{port}/"
    )
    assert code == 0, output
    lines = [line for line in output.splitlines() if "is not reachable" in line]
    # Five attempts in 6.5 s, and a line at the first and after 5 s.
    assert len(lines) == 2, output
    for line in lines:
        assert line.endswith(
            f"WARNING broker.connection: RabbitMQ at amqp://guest:***@127.0.0.1:{port}/"
            " is not reachable (Connection refused); retrying every 5s"
        ), output
    assert "secret" not in output
    assert "Traceback" not in output and "error when creating transport" not in output
    assert "stopped OpenCaseFunction before connecting" in output
