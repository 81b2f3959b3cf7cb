"""Shared pieces of the system benchmarks: processes, /proc figures, result bookkeeping, pacing.

A benchmarked system is a set of OS processes started from the repository root; each one
logs to its own file, is waited for until it prints its readiness line, and is always
stopped (SIGTERM, then SIGKILL after 15 s). Its figures come from ``/proc``: peak RSS
(``VmHWM``) and CPU seconds (``utime + stime``).

The client side is the same for every system: a :class:`Tracker` records when each case was
published and when its result arrived (latency = arrival - publish), counts duplicate and
unexpected results, and checks each result against the tutorial's expected message.
:func:`drive` publishes cases either closed loop (exactly C outstanding: the next case is
published when a result arrives) or open loop (paced at R cases/s whatever the results do).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
STOP_GRACE_SECONDS = 15.0
ESCALATION_CAUSE = "Engage Tier 2 Support."
CLOSED, ESCALATED = "closed", "escalated"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def amqp_url() -> str:
    """The broker URL: ``AMQP_URL`` from the environment, else the local default."""
    return os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL


def kombu_url(url: str) -> str:
    """``url`` as kombu reads it: aio-pika's ``amqp://host:5672/`` is vhost ``/``, kombu's ``//``."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        parts = parts._replace(path="//")
    return urlunsplit(parts)


# --- processes ------------------------------------------------------------------------------


@dataclass
class Proc:
    """A started OS process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        """Wait until ``text`` is in the log; raise with the log's tail if it dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited {self.process.returncode}:\n{self.output()[-3000:]}"
                )
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name} did not log {text!r} in {timeout:.0f}s:\n{self.output()[-3000:]}"
        )


def start_process(name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path) -> Proc:
    """Start ``argv`` from the repository root, stdout and stderr to ``log_dir/<name>.log``."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            list(argv), cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    return Proc(name, process, log)


def python_module(*args: str) -> list[str]:
    """``python -m ARGS`` with this interpreter."""
    return [sys.executable, "-m", *args]


def stop_all(procs: Sequence[Proc], grace: float = STOP_GRACE_SECONDS) -> dict[str, int | None]:
    """SIGTERM every process, wait up to ``grace`` s, SIGKILL what is left (and its children).

    Returns each process's exit code. Children (Celery's pool) are killed by pid only if their
    parent had to be killed, since a parent that stops gracefully stops its own children.
    """
    for proc in procs:
        if proc.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    codes: dict[str, int | None] = {}
    for proc in procs:
        try:
            proc.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            children = descendants(proc.pid)
            proc.process.kill()
            proc.process.wait()
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
        codes[proc.name] = proc.process.returncode
    return codes


# --- /proc figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcSample:
    """One reading of a process: CPU seconds so far and peak RSS so far."""

    name: str
    pid: int
    cpu_seconds: float
    peak_rss_mib: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (``/proc/<pid>/stat`` utime + stime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size (``VmHWM``) of ``pid``, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children first), found by scanning ``/proc``."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(0), [])
        found.extend(children)
        frontier.extend(children)
    return found


def sample(procs: Sequence[Proc], child_label: str = "child") -> list[ProcSample]:
    """Read every process and its descendants (e.g. Celery's pool processes)."""
    samples: list[ProcSample] = []
    for proc in procs:
        pids = [(proc.name, proc.pid)]
        pids += [
            (f"{proc.name} {child_label} {i}", child)
            for i, child in enumerate(descendants(proc.pid), 1)
        ]
        for name, pid in pids:
            try:
                samples.append(ProcSample(name, pid, cpu_seconds(pid), peak_rss_mib(pid)))
            except (OSError, ValueError, IndexError):
                continue
    return samples


def cpu_probe_ms(repeats: int = 5) -> float:
    """Milliseconds one core takes for a fixed pure-Python loop (the best of ``repeats``).

    A virtual machine's speed drifts; taken on an idle machine before each run, this says
    whether two runs were measured on the same machine speed.
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 2)


def broker_pid() -> int | None:
    """The RabbitMQ server's pid (the one ``beam.smp`` on this machine), else None."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "beam.smp":
                    found.append(int(entry.name))
    return found[0] if len(found) == 1 else None


# --- results ---------------------------------------------------------------------------------


def expected_message(case_id: str, closed: bool) -> str:
    """The tutorial's final message of a case."""
    end = "resolved...closed." if closed else "unresolved...escalating."
    return f"Case {case_id}: opened...assigned...{end}"


@dataclass
class Tracker:
    """Publish and arrival times of one batch of cases, and what came back."""

    expected: int
    sent: dict[str, float] = field(default_factory=dict)
    arrived_at: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0
    unexpected: int = 0
    publish_errors: list[str] = field(default_factory=list)
    on_result: Callable[[], None] | None = None

    def published(self, case_id: str) -> None:
        """Record that ``case_id`` is being published now."""
        self.sent[case_id] = time.perf_counter()

    def arrived(self, case_id: str | None, outcome: str) -> None:
        """Record a result for ``case_id`` (``closed``, ``escalated`` or an error text)."""
        now = time.perf_counter()
        if case_id is None or case_id not in self.sent:
            self.unexpected += 1
            return
        if case_id in self.arrived_at:
            self.duplicates += 1
            return
        self.arrived_at[case_id] = now
        self.outcomes[case_id] = outcome
        if self.on_result is not None:
            self.on_result()

    def publish_failed(self, case_id: str, error: BaseException) -> None:
        self.publish_errors.append(f"{case_id}: {error!r}")
        if self.on_result is not None:
            self.on_result()  # frees the slot: this case will never answer

    @property
    def inflight(self) -> int:
        return len(self.sent) - len(self.arrived_at) - len(self.publish_errors)

    @property
    def complete(self) -> bool:
        return len(self.arrived_at) + len(self.publish_errors) >= self.expected

    def summary(self) -> dict[str, Any]:
        """Counts, throughput and latency percentiles of the batch."""
        latencies = sorted(
            (self.arrived_at[c] - self.sent[c]) * 1000 for c in self.arrived_at if c in self.sent
        )
        results = len(self.arrived_at)
        first_sent = min(self.sent.values(), default=0.0)
        last_sent = max(self.sent.values(), default=0.0)
        last_result = max(self.arrived_at.values(), default=first_sent)
        wall = last_result - first_sent
        counts = {CLOSED: 0, ESCALATED: 0, "wrong": 0}
        for outcome in self.outcomes.values():
            counts[outcome if outcome in (CLOSED, ESCALATED) else "wrong"] += 1
        wrong = [f"{c}: {o}" for c, o in self.outcomes.items() if o not in (CLOSED, ESCALATED)]
        return {
            "cases": self.expected,
            "published": len(self.sent),
            "results": results,
            "missing": self.expected - results,
            "duplicates": self.duplicates,
            "unexpected": self.unexpected,
            "closed": counts[CLOSED],
            "escalated": counts[ESCALATED],
            "wrong": counts["wrong"],
            "wrong_examples": wrong[:5],
            "publish_errors": self.publish_errors[:5],
            "wall_seconds": round(wall, 4),
            "executions_per_second": round(results / wall, 2) if wall > 0 else 0.0,
            "publish_rate": (
                round((len(self.sent) - 1) / (last_sent - first_sent), 2)
                if last_sent > first_sent
                else None
            ),
            "latency_ms": {
                "p50": percentile(latencies, 50),
                "p95": percentile(latencies, 95),
                "p99": percentile(latencies, 99),
                "mean": round(sum(latencies) / len(latencies), 2) if latencies else None,
                "max": round(latencies[-1], 2) if latencies else None,
            },
        }


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100) of an ascending sequence; None when empty."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)


# --- pacing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """How cases are offered: closed loop at ``concurrency``, or open loop at ``rate``/s."""

    concurrency: int
    rate: float | None = None
    timeout: float = 600.0
    settle: float = 0.5  # after the last result, listen this long for duplicates

    def describe(self) -> str:
        if self.rate:
            return f"open loop at {self.rate:g} cases/s"
        return f"closed loop, {self.concurrency} outstanding"


async def publish_case_message(
    channel: Any,
    queue: str,
    body: bytes,
    *,
    correlation_id: str,
    reply_to: str,
    headers: dict[str, Any] | None = None,
) -> None:
    """Publish a JSON ``body`` to ``queue`` on an aio-pika channel, persistent (confirmed when
    the channel confirms): how the benchmark's clients and relays send a case or a step."""
    import aio_pika

    await channel.default_exchange.publish(
        aio_pika.Message(
            body,
            headers=headers,
            reply_to=reply_to,
            correlation_id=correlation_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=queue,
    )


async def drive(
    publish: Callable[[str], Awaitable[None]],
    tracker: Tracker,
    case_ids: Sequence[str],
    load: Load,
) -> None:
    """Publish ``case_ids`` under ``load`` and wait (bounded) until every result is in.

    Each publish runs as its own task, so waiting for a publisher confirm never holds back
    the pace; a publish that fails is recorded and frees its slot. Returns when every case
    answered, or when ``load.timeout`` passes (what is missing is then counted missing).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + load.timeout
    slots = asyncio.Semaphore(load.concurrency)
    finished = asyncio.Event()

    def on_result() -> None:
        slots.release()
        if tracker.complete:
            finished.set()

    tracker.on_result = on_result
    tasks: set[asyncio.Task[None]] = set()

    async def publish_one(case_id: str) -> None:
        try:
            await publish(case_id)
        except Exception as exc:
            tracker.publish_failed(case_id, exc)

    start = time.perf_counter()
    for index, case_id in enumerate(case_ids):
        if load.rate:
            delay = start + index / load.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            try:
                await asyncio.wait_for(slots.acquire(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                break
        if loop.time() > deadline:
            break
        tracker.published(case_id)
        task = asyncio.create_task(publish_one(case_id))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if not tracker.complete:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), max(0.0, deadline - loop.time()))
    await asyncio.sleep(load.settle)
    for task in list(tasks):
        task.cancel()
