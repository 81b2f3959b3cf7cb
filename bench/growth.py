"""Does the orchestrator slow down as its store fills? Throughput per window of a long run.

Starts ours as ``bench.compare`` does (orchestrator on a fresh SQLite file, five workers,
the local RabbitMQ), then runs ``--executions`` call-center cases closed loop and cuts the
run into windows of ``--window`` results, in arrival order. Per window it reports executions
per second, the orchestrator's CPU milliseconds per execution (from ``/proc``, sampled at
the window's edges) and p50/p99 latency. The second half of the windows against the first (and
the last window against the first) answers "is the 10,000th execution as fast as the 100th?" while the store grows by about 5 history rows,
one execution row and 10 outbox writes per execution. Usage:

    python -m bench.growth [--executions 10000] [--window 1000] [--concurrency 100]
        [--json bench-results/growth.json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Load, Proc, Tracker, amqp_url, cpu_seconds, percentile, stop_all
from bench.compare import WARMUP_TIMEOUT, Ours, machine_info

POLL_SECONDS = 0.02


async def run_windows(
    ours: Ours, orchestrator: Proc, executions: int, window: int, concurrency: int
) -> tuple[Tracker, list[tuple[int, float, float]]]:
    """Run the cases; (results, seconds, orchestrator CPU s) at each window edge, and the start."""
    # ``concurrency`` cases more than measured keep the loop full to the last measured one:
    # the final drain (fewer cases in flight) is not in any window.
    total = executions + concurrency
    tracker = Tracker(expected=total)
    edges = [(0, time.perf_counter(), cpu_seconds(orchestrator.pid))]

    async def watch() -> None:
        while edges[-1][0] < executions:
            done = len(tracker.arrived_at)
            if done >= edges[-1][0] + window:
                edges.append((done, time.perf_counter(), cpu_seconds(orchestrator.pid)))
            await asyncio.sleep(POLL_SECONDS)

    watcher = asyncio.create_task(watch())
    load = Load(concurrency=concurrency, timeout=total / 5 + 120)
    try:
        await ours.run_async([str(i) for i in range(total)], load, tracker)
    finally:
        watcher.cancel()
    return tracker, edges


def window_rows(tracker: Tracker, edges: list[tuple[int, float, float]]) -> list[dict[str, Any]]:
    """Per window: executions/s, orchestrator CPU ms per execution, p50/p99 latency."""
    by_arrival = sorted(tracker.arrived_at, key=tracker.arrived_at.__getitem__)
    rows = []
    for (n0, t0, c0), (n1, t1, c1) in itertools.pairwise(edges):
        count = n1 - n0
        latencies = sorted(
            (tracker.arrived_at[c] - tracker.sent[c]) * 1000 for c in by_arrival[n0:n1]
        )
        rows.append(
            {
                "executions": f"{n0 + 1}-{n1}",
                "executions_per_second": round(count / (t1 - t0), 1),
                "orchestrator_cpu_ms_per_execution": round((c1 - c0) * 1000 / count, 2),
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
            }
        )
    return rows


def store_figures(db: Path) -> dict[str, Any]:
    """How big the store grew: rows and file size (WAL included)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        executions = connection.execute("SELECT COUNT(*) FROM executions").fetchone()[0]
        history = connection.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    return {"executions": executions, "history_events": history, "mib": round(size / 2**20, 1)}


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return sum(float(row[key]) for row in rows) / len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--worker-concurrency", type=int, default=10)
    parser.add_argument("--json", type=Path, default=Path("bench-results/growth.json"))
    args = parser.parse_args(argv)
    if args.window < 1 or args.executions < args.window:
        parser.error("--window must be from 1 to --executions")

    url = amqp_url()
    env = {**os.environ, "AMQP_URL": url, "PYTHONUNBUFFERED": "1"}
    machine = machine_info(url)
    ours = Ours(url, args.worker_concurrency)
    procs: list[Proc] = []
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as logs:
        log_dir = Path(logs)
        try:
            ours.start(env, log_dir, procs)
            warm = ours.run([f"w{i}" for i in range(50)], Load(50, timeout=WARMUP_TIMEOUT))
            if warm.summary()["missing"]:
                print("warm-up cases went missing; see the logs", file=sys.stderr)
                return 1
            tracker, edges = asyncio.run(
                run_windows(ours, procs[0], args.executions, args.window, args.concurrency)
            )
        finally:
            stop_all(procs)
        summary = tracker.summary()
        store = store_figures(log_dir / "sfn.db")
    rows = window_rows(tracker, edges)
    first, last = rows[0], rows[-1]
    # One window is noisy on a shared machine; halves of the run show a trend more clearly.
    half = max(1, len(rows) // 2)
    halves = {
        key: round(_mean(rows[-half:], key) / _mean(rows[:half], key), 3)
        for key in ("executions_per_second", "orchestrator_cpu_ms_per_execution")
    }
    result: dict[str, Any] = {
        "machine": machine,
        "parameters": vars(args) | {"json": str(args.json)},
        "summary": {k: summary[k] for k in ("results", "missing", "duplicates", "wrong")},
        "store_at_end": store,
        "windows": rows,
        "second_half_over_first_half": halves,
        "last_over_first": {
            "executions_per_second": round(
                last["executions_per_second"] / first["executions_per_second"], 3
            ),
            "orchestrator_cpu_ms_per_execution": round(
                last["orchestrator_cpu_ms_per_execution"]
                / first["orchestrator_cpu_ms_per_execution"],
                3,
            ),
        },
    }
    print(f"{'executions':>13} {'exec/s':>8} {'orch CPU ms/exec':>17} {'p50 ms':>8} {'p99 ms':>8}")
    for row in rows:
        print(
            f"{row['executions']:>13} {row['executions_per_second']:>8.1f}"
            f" {row['orchestrator_cpu_ms_per_execution']:>17.2f}"
            f" {row['p50_ms'] or 0:>8.1f} {row['p99_ms'] or 0:>8.1f}"
        )
    ratio = result["last_over_first"]
    print(
        f"second half / first half: {halves['executions_per_second']:.2f}x executions/s,"
        f" {halves['orchestrator_cpu_ms_per_execution']:.2f}x orchestrator CPU per execution"
    )
    print(
        f"last window / first: {ratio['executions_per_second']:.2f}x executions/s,"
        f" {ratio['orchestrator_cpu_ms_per_execution']:.2f}x orchestrator CPU per execution;"
        f" store at the end: {store['executions']} executions, {store['history_events']}"
        f" history events, {store['mib']} MiB"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    problems = [k for k in ("missing", "duplicates", "wrong") if summary[k]]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
