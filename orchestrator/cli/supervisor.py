"""``python -m orchestrator up``: the orchestrator and the five workers as child processes.

For machines without Docker: the same six processes as ``docker compose up``, each its own
OS process, stopped together on Ctrl-C or SIGTERM. If one exits on its own, the others are
stopped and the supervisor exits non-zero, so a process manager can restart the set.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

WORKERS = ("open", "assign", "work", "close", "escalate")


def run_stack(orchestrator_args: Sequence[str]) -> int:
    """Run the stack until a signal or a child's exit; returns the exit code."""
    commands = [[sys.executable, "-m", "orchestrator", *orchestrator_args]]
    commands += [[sys.executable, "-m", "workers", name] for name in WORKERS]
    children = [subprocess.Popen(command) for command in commands]
    names = {
        id(child): " ".join(command[2:4]) for child, command in zip(children, commands, strict=True)
    }
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while not stopping:
        exited = [child for child in children if child.poll() is not None]
        if exited:
            code = 1
            print(
                f"{names[id(exited[0])]} exited with {exited[0].returncode}; stopping",
                file=sys.stderr,
            )
            break
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    return code
