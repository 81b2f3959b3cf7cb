"""bench.timeline: a run's cases and CPU samples folded into one row per second."""

from __future__ import annotations

from bench.common import Tracker
from bench.timeline import per_second, slowest


def test_each_second_gets_its_cases_latencies_and_each_process_cpu() -> None:
    tracker = Tracker(expected=3)
    tracker.sent = {"a": 100.0, "b": 100.5, "c": 101.2}
    tracker.arrived_at = {"a": 100.02, "b": 100.54, "c": 101.5}
    samples = [
        (100.0, {"orchestrator": 1.0, "broker": 2.0}),
        (100.5, {"orchestrator": 1.1, "broker": 2.1}),
        (101.0, {"orchestrator": 1.2, "broker": 2.2}),
        (101.5, {"orchestrator": 1.7, "broker": 2.25}),
    ]
    rows = per_second(tracker, samples)
    assert [row["second"] for row in rows] == [0, 1]
    assert [row["cases"] for row in rows] == [2, 1]
    assert rows[0]["p99_ms"] == 40.0 and rows[1]["p50_ms"] == 300.0
    assert rows[0]["cpu_ms"] == {"broker": 200, "orchestrator": 200}
    assert rows[1]["cpu_ms"] == {"broker": 50, "orchestrator": 500}
    (worst, _) = slowest(rows, count=2)
    assert worst.startswith("second 1: p99 300.0 ms") and "orchestrator 500" in worst


def test_a_run_with_no_case_has_no_rows() -> None:
    assert per_second(Tracker(expected=0), []) == []
    assert slowest([]) == []
