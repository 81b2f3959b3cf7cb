"""The README's path without Docker: ``python -m orchestrator up``, then ``submit`` a case."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aio_pika.abc import AbstractChannel

from tests.integration.amqp import purge_topology

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


async def test_up_runs_the_stack_and_submit_prints_results(
    amqp_channel: AbstractChannel, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    await purge_topology(amqp_channel)
    subprocess_env = {**subprocess_env, "WORKER_SEED": "7"}
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "up",
            "--db",
            str(tmp_path / "sfn.db"),
            "--api-port",
            "0",
        ],
        cwd=REPO,
        env=subprocess_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        statuses = set()
        for i in range(12):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "orchestrator",
                    "submit",
                    json.dumps({"inputCaseID": f"{i:03d}"}),
                    "--name",
                    f"up-{tmp_path.name}-{i}",
                ],
                cwd=REPO,
                env=subprocess_env,
                capture_output=True,
                text=True,
                timeout=90,
            )
            result = json.loads(done.stdout)
            assert done.returncode == (0 if result["status"] == "SUCCEEDED" else 1)
            assert result["name"] == f"up-{tmp_path.name}-{i}"
            statuses.add(result["status"])
            if result["status"] == "FAILED":
                assert result["cause"] == "Engage Tier 2 Support."
            else:
                assert (
                    result["output"]["Message"]
                    == f"Case {i:03d}: opened...assigned...resolved...closed."
                )
        assert statuses == {"SUCCEEDED", "FAILED"} or (len(statuses) == 1 and i == 11)
        # Asking again for a finished execution answers at once with the same result.
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "submit",
                json.dumps({"inputCaseID": "011"}),
                "--name",
                f"up-{tmp_path.name}-11",
                "--timeout",
                "20",
            ],
            cwd=REPO,
            env=subprocess_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert json.loads(again.stdout) == result
        # describe prints the same shape as submit, by name or by the ARN submit printed.
        for execution in (result["name"], result["executionArn"]):
            described = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "orchestrator",
                    "describe",
                    execution,
                    "--db",
                    str(tmp_path / "sfn.db"),
                ],
                cwd=REPO,
                env=subprocess_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert json.loads(described.stdout) == result, described.stderr
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            code = up.wait(30)
        finally:
            if up.poll() is None:
                up.kill()
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
    output = (tmp_path / "up.log").read_text()
    assert "orchestrator stopping" in output
    assert output.count("stopped ") >= 5, output
