"""A full disk under the store: valid work waits, is never dead-lettered, and runs by itself
when space returns.

The store lives on a real, small tmpfs filled to the last byte, so SQLite's writes fail with
SQLITE_FULL exactly as on a full disk. Mounting needs root (CI runs as root on its machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest

from broker import INTAKE_QUEUE, Topology
from messages.executions import EXECUTION_NAME_HEADER, STATE_MACHINE_HEADER
from orchestrator.cli.dead_letters import list_dead_letters
from tests.processes import start_orchestrator

pytestmark = pytest.mark.integration
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
STARTS = 40


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        message = f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; returns it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for chunk in (1 << 20, 65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    return filler


async def publish_starts(url: str, names: list[str]) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).work_queue(INTAKE_QUEUE)
        for name in names:
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps({"n": name}).encode(),
                    headers={STATE_MACHINE_HEADER: "Pass", EXECUTION_NAME_HEADER: name},
                ),
                routing_key=INTAKE_QUEUE,
            )
    finally:
        await connection.close()


def statuses(db: Path) -> dict[str, str]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        return dict(connection.execute("SELECT name, status FROM executions"))


def test_a_full_disk_holds_starts_back_until_space_returns(
    amqp_url: str, tmp_path: Path, small_disk: Path
) -> None:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "Pass.asl.json").write_text(json.dumps(PASS))
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    db = small_disk / "sfn.db"
    service = start_orchestrator(env, tmp_path, db, definitions)
    try:
        tag = time.time_ns()
        names = [f"full-{tag}-{i}" for i in range(STARTS)]
        filler = fill(small_disk)
        asyncio.run(publish_starts(amqp_url, names))
        time.sleep(6)  # far longer than 20 immediate redeliveries would take
        assert service.process.poll() is None, service.output()
        letters = asyncio.run(list_dead_letters(amqp_url, [INTAKE_QUEUE]))
        assert not [letter for letter in letters if str(tag) in letter.body.decode()]
        committed = [n for n in statuses(db) if n in names]
        assert len(committed) < STARTS  # the disk really was full
        assert "committing to the store failed" in service.output()

        filler.unlink()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = {n: s for n, s in statuses(db).items() if n in names}
            if len(done) == STARTS:
                break
            time.sleep(0.2)
        assert done == dict.fromkeys(names, "SUCCEEDED")
        assert "committing to the store works again" in service.output()
        letters = asyncio.run(list_dead_letters(amqp_url, [INTAKE_QUEUE]))
        assert not [letter for letter in letters if str(tag) in letter.body.decode()]
    finally:
        service.stop()
