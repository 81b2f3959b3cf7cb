"""Starting the services as real OS processes for tests, with their logs kept for failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKER_NAMES = ("open", "assign", "work", "close", "escalate")


@dataclass
class Service:
    """A running process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        """Wait until ``text`` appears in the log; fail with the log if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not log {text!r} in {timeout}s:\n{self.output()}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class Stack:
    """The orchestrator and the five workers."""

    services: list[Service] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.output()[-4000:]}" for s in self.services)


def start(name: str, args: Sequence[str], env: dict[str, str], log_dir: Path) -> Service:
    """Start ``python -m ARGS`` from the repository root with its output in a log file."""
    log = log_dir / f"{name}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", *args], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    return Service(name, process, log)


def start_orchestrator(
    env: dict[str, str],
    log_dir: Path,
    db: Path | str,
    definitions: Path | None = None,
    name: str = "orchestrator",
    api_port: int = 0,
) -> Service:
    """Start the orchestrator service and wait until it serves (no API unless ``api_port``)."""
    service = start(
        name,
        [
            "orchestrator",
            "--definitions",
            str(definitions or REPO / "definitions"),
            "--db",
            str(db),
            "--api-port",
            str(api_port),
        ],
        env,
        log_dir,
    )
    service.wait_for("orchestrator serving")
    return service


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


@contextmanager
def call_center_stack(env: dict[str, str], tmp: Path, *, db: Path | None = None) -> Iterator[Stack]:
    """The orchestrator (on ``definitions/``) and the five workers, stopped gracefully after."""
    stack = Stack()
    try:
        orchestrator = start(
            "orchestrator",
            [
                "orchestrator",
                "--definitions",
                str(REPO / "definitions"),
                "--db",
                str(db or tmp / "sfn.db"),
            ],
            env,
            tmp,
        )
        stack.services.append(orchestrator)
        for worker in WORKER_NAMES:
            stack.services.append(start(f"worker-{worker}", ["workers", worker], env, tmp))
        orchestrator.wait_for("orchestrator serving")
        yield stack
    finally:
        for service in stack.services:
            service.stop()


def serve_with(settings: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """Start the service with ``settings`` in its environment and no broker to reach: a
    setting it refuses ends it at once (exit 2), before it connects."""
    env = {**os.environ, **settings, "AMQP_URL": "amqp://127.0.0.1:1/"}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "--db", str(tmp / "sfn.db")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
