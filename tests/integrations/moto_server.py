"""A real moto server process for the AWS target's tests: the ``moto_server`` session fixture.

The server binds a port of the system's choosing (``-p 0``) and says which in its log, so two
test runs never race for one. It is ready once it answers HTTP.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import botocore.session
import pytest

_LISTENING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")
_START_TIMEOUT = 20.0


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: its ``url`` and how long it took to answer."""

    url: str
    startup_seconds: float


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Start ``python -m moto.server`` and wait until it answers; stop it after the session."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = _wait_until_answering(process, log)
        yield MotoServer(url, time.monotonic() - started)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"moto server exited {process.returncode}:\n{log.read_text()}")
        match = _LISTENING.search(log.read_text(errors="replace"))
        if match and _answers(match.group(1)):
            return match.group(1)
        time.sleep(0.05)
    raise AssertionError(f"moto server did not answer in {_START_TIMEOUT}s:\n{log.read_text()}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP error is an answer
    except OSError:
        return False


@pytest.fixture(scope="module")
def session() -> botocore.session.Session:
    """A botocore session with moto's dummy credentials."""
    session = botocore.session.Session()
    session.set_credentials("testing", "testing")
    return session
