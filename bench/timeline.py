"""A run second by second: the latency of the cases published in each second and the CPU each
process spent in it, to tell where a latency tail comes from (one process, or all at once)."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Mapping
from typing import Any

from bench.common import Tracker, cpu_seconds, percentile

Sample = tuple[float, dict[str, float]]  # (perf_counter, CPU seconds by process name)


class CpuSampler:
    """Reads the CPU seconds of named processes every ``every`` seconds, in a thread."""

    def __init__(self, pids: Mapping[str, int], every: float = 0.1) -> None:
        self.pids = dict(pids)
        self.every = every
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> list[Sample]:
        """Stop sampling; every sample taken."""
        self._stop.set()
        self._thread.join()
        return self.samples

    def _run(self) -> None:
        while True:
            now, read = time.perf_counter(), {}
            for name, pid in self.pids.items():
                try:
                    read[name] = cpu_seconds(pid)
                except OSError:  # exited: it shows as no CPU from then on
                    continue
            self.samples.append((now, read))
            if self._stop.wait(self.every):
                return


def per_second(tracker: Tracker, samples: list[Sample]) -> list[dict[str, Any]]:
    """One row per second since the first publish: how many cases were published in it, their
    p50/p99 start-to-result ms, and the CPU ms each sampled process spent in it."""
    if not tracker.sent:
        return []
    start = min(tracker.sent.values())
    latencies: dict[int, list[float]] = {}
    for case, sent in tracker.sent.items():
        if case in tracker.arrived_at:
            second = int(sent - start)
            latencies.setdefault(second, []).append((tracker.arrived_at[case] - sent) * 1000)
    cpu: dict[int, dict[str, float]] = {}
    for (before, read0), (_, read1) in itertools.pairwise(samples):
        second = int(before - start)
        if second < 0:
            continue
        into = cpu.setdefault(second, {})
        for name, value in read1.items():
            if name in read0:
                into[name] = into.get(name, 0.0) + (value - read0[name]) * 1000
    rows = []
    for second in sorted(latencies):
        ordered = sorted(latencies[second])
        rows.append(
            {
                "second": second,
                "cases": len(ordered),
                "p50_ms": percentile(ordered, 50),
                "p99_ms": percentile(ordered, 99),
                "cpu_ms": {n: round(v) for n, v in sorted(cpu.get(second, {}).items())},
            }
        )
    return rows


def slowest(rows: list[dict[str, Any]], count: int = 3) -> list[str]:
    """The ``count`` seconds with the highest p99, each with every process's CPU against its
    median second (a tail in one process, or in all at once)."""
    names = sorted({n for row in rows for n in row["cpu_ms"]})
    typical = {
        n: statistics.median([row["cpu_ms"].get(n, 0) for row in rows]) if rows else 0
        for n in names
    }
    lines = []
    for row in sorted(rows, key=lambda r: r["p99_ms"] or 0, reverse=True)[:count]:
        cpu = ", ".join(f"{n} {row['cpu_ms'].get(n, 0)} ({typical[n]:g})" for n in names)
        lines.append(
            f"second {row['second']}: p99 {row['p99_ms']} ms, p50 {row['p50_ms']} ms;"
            f" CPU ms (median second): {cpu}"
        )
    return lines
