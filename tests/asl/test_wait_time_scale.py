"""WAIT_TIME_SCALE: waits, Retry backoffs and timeouts scaled; the history keeps the seconds
the definition asked for."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl.loader import load_definition
from orchestrator.local_runner import FakeClock, run_local
from tests.processes import serve_with
from workers.runtime import Function

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def test_waits_backoffs_and_timeouts_are_scaled() -> None:
    attempts: list[int] = []

    def flaky(event: Any, context: Any) -> Any:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("again")
        return event

    machine = load_definition(
        json.dumps(
            {
                "StartAt": "W",
                "States": {
                    "W": {"Type": "Wait", "Seconds": 1000, "Next": "T"},
                    "T": {
                        "Type": "Task",
                        "Resource": LAMBDA + "Flaky",
                        "TimeoutSeconds": 3600,
                        "Retry": [
                            {
                                "ErrorEquals": ["States.ALL"],
                                "IntervalSeconds": 100,
                                "BackoffRate": 2,
                            }
                        ],
                        "End": True,
                    },
                },
            }
        ),
        name="M",
    )
    clock = FakeClock()
    start = clock.now()
    result = run_local(
        machine, {}, {"Flaky": Function("Flaky", flaky)}, clock=clock, time_scale=0.01
    )
    assert result.state.status == "SUCCEEDED"
    # 1000 s of Wait and 100 + 200 s of backoff, at a hundredth: 13 s.
    assert clock.now() - start == timedelta(seconds=13)
    scheduled = [e.details for e in result.history if e.type == "LambdaFunctionScheduled"]
    assert [d["timeoutInSeconds"] for d in scheduled if d] == [3600, 3600, 3600]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WAIT_TIME_SCALE", "fast", "WAIT_TIME_SCALE must be a factor from 0 to 1000, not 'fast'"),
        ("SFN_STATUS_EVENTS", "maybe", "SFN_STATUS_EVENTS must be 'on' or 'off', not 'maybe'"),
    ],
)
def test_serve_refuses_a_bad_setting(tmp_path: Path, name: str, value: str, message: str) -> None:
    done = serve_with({name: value}, tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
