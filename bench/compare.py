"""Ours against a zero-cost orchestrator and Celery, on the call-center workflow, side by side.

One run measures, in turn (never concurrently), on the RabbitMQ at ``AMQP_URL``:
- ours: ``python -m orchestrator`` (a fresh SQLite store) and the five ``python -m workers``
  processes; cases go to the ``intake`` queue, results come back on a client-owned queue;
- ceiling (``bench.ceiling``): five raw aio-pika workers chained by the client itself, no
  store, no validation, no state machine: what RabbitMQ and Python allow at best;
- celery (``bench.celery_chain``): a Celery chain plus a ``Task.replace`` branch, prefork
  worker, ``rpc://`` results, acks late, persistent messages, publisher confirms;
- ceiling-relay (``bench.relay``, only when named): the ceiling's workers behind a relay
  process that takes cases from an intake queue and answers each case's ``reply_to``: ours'
  shape, with nothing inside;
- celery-default: the same chain as Celery is mostly left, a classic queue, no confirms,
  acks early, prefetch 64.

Each system is started as its own OS processes, warmed up (``--warmup`` cases, not counted),
then given ``--cases`` cases, either closed loop (``--concurrency`` outstanding: the next case
is published when a result arrives) or open loop (``--rate`` cases/s, to measure latency at a
given load such as half of the peak throughput). Latency is result arrival minus publish time
of that case; throughput is results / (last result - first publish). Every case must get
exactly one, correct, result; missing, duplicate and wrong results are counted. Peak RSS
(VmHWM) and CPU seconds (utime + stime) come from ``/proc`` for every process of the system
(CPU over the measured run, and in total just before stopping), plus the client's (this
process) and the broker's CPU over the measured run. A system that does not finish within
``--timeout`` seconds is reported failed; every process started is always stopped (SIGTERM,
SIGKILL after 15 s).

``--rounds R`` runs the systems R times, interleaved (A B C, A B C, ...), and reports each
system's median executions/s and ours' ratios to the others per round and of the medians.
``--half-peak`` then runs ours R times in open loop at half its median peak: the p99 latency
of a service that is not saturated. Usage:

    python -m bench.compare [--cases 1000] [--concurrency 100 | --rate R] [--rounds 1]
        [--half-peak] [--systems ours,ceiling,celery,celery-default] [--queue-type quorum|classic]
        [--json bench-results/compare.json] [--chart bench-results/compare.png]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage

from bench import ceiling, relay
from bench.broker_wal import DEFAULT_PATTERN, current_wal, rolled_over
from bench.common import (
    CLOSED,
    ESCALATED,
    ESCALATION_CAUSE,
    REPO,
    Load,
    Proc,
    ProcSample,
    Tracker,
    amqp_url,
    broker_pid,
    cpu_probe_ms,
    cpu_seconds,
    drive,
    expected_message,
    publish_case_message,
    python_module,
    sample,
    start_process,
    stop_all,
)
from bench.timeline import CpuSampler, per_second, slowest
from broker import INTAKE_QUEUE, TASK_RESULTS_QUEUE, Topology, function_queue

SYSTEMS = ("ours", "ceiling", "celery", "celery-default")
# Measured only when named: the ceiling's chain behind a zero-cost orchestrator of ours' shape.
EXTRA_SYSTEMS = ("ceiling-relay",)
# Variants of ours, to measure side by side with it: EXPRESS in memory, and N replicas on a
# fresh PostgreSQL database ("ours-pg" is one, "ours-pg3" three).
VARIANTS = re.compile(r"^ours-(express|pg(\d?))$")
OURS_WORKERS = {
    "open": "OpenCaseFunction",
    "assign": "AssignCaseFunction",
    "work": "WorkOnCaseFunction",
    "close": "CloseCaseFunction",
    "escalate": "EscalateCaseFunction",
}
START_TIMEOUT = 60.0
WARMUP_TIMEOUT = 120.0


class System(Protocol):
    """A benchmarked system: its processes, and a client that runs a batch of cases."""

    name: str
    queue_type: str
    settings: dict[str, Any]

    def start(self, env: dict[str, str], log_dir: Path, procs: list[Proc]) -> None:
        """Reset its queues and start its processes (appended to ``procs`` as they start)."""

    def run(self, case_ids: Sequence[str], load: Load) -> Tracker:
        """Run ``case_ids`` under ``load`` and return what came back."""


# --- ours -----------------------------------------------------------------------------------


class Ours:
    """The orchestrator(s) and the five workers, fed through the ``intake`` queue.

    ``store``: a fresh SQLite file, or a fresh PostgreSQL database (``postgresql``) that
    ``replicas`` orchestrators share. ``express``: the cases run as an EXPRESS copy of the
    call-center machine (created through the API), in memory.
    """

    name = "ours"
    queue_type = "quorum"  # ours' topology: always quorum queues

    def __init__(
        self,
        url: str,
        worker_concurrency: int,
        *,
        store: str = "sqlite",
        replicas: int = 1,
        express: bool = False,
    ) -> None:
        self.url = url
        self.run_id = uuid.uuid4().hex[:8]
        self.worker_concurrency = worker_concurrency
        self.store = store
        self.replicas = replicas
        self.express = express
        self.machine = EXPRESS_MACHINE if express else "CallCenterStateMachine"
        self.database: str | None = None
        self.settings: dict[str, Any] = {
            "processes": f"{replicas} orchestrator(s) + 5 workers",
            "store": "SQLite (fresh file)"
            if store == "sqlite"
            else f"PostgreSQL (fresh database), {replicas} replica(s)",
            "type": "EXPRESS (in memory)" if express else "STANDARD (durable)",
            "options": "defaults, workers with --concurrency "
            f"{worker_concurrency} (as many in flight as the ceiling's prefetch)",
        }

    def start(self, env: dict[str, str], log_dir: Path, procs: list[Proc]) -> None:
        asyncio.run(self._purge())
        location = str(log_dir / "sfn.db")
        if self.store == "postgresql":
            location = self.database = postgres_database()
        ports = [_free_port() for _ in range(self.replicas)]
        for number, port in enumerate(ports, 1):
            args = ["orchestrator", "--definitions", "definitions"]
            args += ["--db", location, "--api-port", str(port if self.express else 0)]
            own = {**env, "SFN_GUARD_FILE": str(log_dir / f"replica-{number}")}
            name = "orchestrator" if self.replicas == 1 else f"orchestrator {number}"
            procs.append(start_process(name, python_module(*args), own, log_dir))
        orchestrators = len(procs)
        for short in OURS_WORKERS:
            procs.append(
                start_process(
                    f"worker {short}",
                    python_module("workers", short, "--concurrency", str(self.worker_concurrency)),
                    env,
                    log_dir,
                )
            )
        for proc in procs[:orchestrators]:
            proc.wait_for("orchestrator serving", START_TIMEOUT)
        for proc in procs[orchestrators:]:
            proc.wait_for("started ", START_TIMEOUT)
        if self.express:  # one replica's API creates it; the others find it in the store
            create_express_machine(ports[0])

    def stop(self) -> None:
        """Drop the fresh database, if one was made."""
        if self.database is not None:
            drop_postgres_database(self.database)
            self.database = None

    async def _purge(self) -> None:
        connection = await aio_pika.connect(self.url)
        try:
            topology = Topology(await connection.channel())
            names = [INTAKE_QUEUE, TASK_RESULTS_QUEUE]
            names += [function_queue(f) for f in OURS_WORKERS.values()]
            for name in names:
                await (await topology.work_queue(name)).purge()
        finally:
            await connection.close()

    def run(self, case_ids: Sequence[str], load: Load) -> Tracker:
        return asyncio.run(self.run_async(case_ids, load))

    async def run_async(
        self, case_ids: Sequence[str], load: Load, tracker: Tracker | None = None
    ) -> Tracker:
        """Run ``case_ids`` on the loop running now, recording into ``tracker`` (or a new one)."""
        tracker = tracker or Tracker(expected=len(case_ids))
        connection = await aio_pika.connect(self.url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            replies = await channel.declare_queue("", exclusive=True)

            async def on_result(message: AbstractIncomingMessage) -> None:
                case_id = message.correlation_id
                tracker.arrived(case_id, _ours_outcome(case_id or "", orjson.loads(message.body)))

            await replies.consume(on_result, no_ack=True)

            async def publish(case_id: str) -> None:
                await publish_case_message(
                    channel,
                    INTAKE_QUEUE,
                    orjson.dumps({"inputCaseID": case_id}),
                    correlation_id=case_id,
                    reply_to=replies.name,
                    headers={
                        "execution-name": f"bench-{self.run_id}-{case_id}",
                        "state-machine": self.machine,
                    },
                )

            await drive(publish, tracker, case_ids, load)
        finally:
            await connection.close()
        return tracker


EXPRESS_MACHINE = "CallCenterExpress"
# Where --store postgresql makes its fresh database (the server's maintenance database).
POSTGRES_SERVER = os.environ.get(
    "SFN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_database() -> str:
    """A fresh, empty database on the benchmark's PostgreSQL server: its URL."""
    import psycopg
    from psycopg import conninfo, sql

    name = "sfn_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = conninfo.conninfo_to_dict(POSTGRES_SERVER)
    return f"postgresql://{info.get('user') or ''}@{info.get('host') or '127.0.0.1'}:{info.get('port') or 5432}/{name}"


def drop_postgres_database(url: str) -> None:
    """Drop a database :func:`postgres_database` made."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def create_express_machine(port: int) -> None:
    """CreateStateMachine (type EXPRESS) of the call-center definition, through the API."""
    import urllib.request

    definition = (REPO / "definitions" / "CallCenterStateMachine.asl.json").read_text()
    body = {
        "name": EXPRESS_MACHINE,
        "definition": definition,
        "roleArn": "arn:aws:iam::123456789012:role/bench",
        "type": "EXPRESS",
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.CreateStateMachine",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def postgres_cpu_seconds() -> float:
    """CPU seconds of every ``postgres`` process on this machine (the database's share)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
    return total


def _ours_outcome(case_id: str, result: dict[str, Any]) -> str:
    """``closed`` or ``escalated`` when the execution result is the tutorial's, else why not."""
    status = result.get("status")
    if status == "SUCCEEDED":
        output = result.get("output") or {}
        if output.get("Message") == expected_message(case_id, closed=True):
            return CLOSED
    elif status == "FAILED" and result.get("cause") == ESCALATION_CAUSE:
        return ESCALATED
    return f"{status}: {str(result)[:300]}"


# --- ceiling --------------------------------------------------------------------------------


class Ceiling:
    """Five raw aio-pika workers chained by the client (``bench.ceiling``)."""

    name = "ceiling"

    def __init__(self, url: str, queue_type: str) -> None:
        self.url = url
        self.queue_type = queue_type
        self.settings: dict[str, Any] = {
            "processes": "5 raw aio-pika workers; the client chains them",
            "worker_prefetch": ceiling.DEFAULT_PREFETCH,
            "client_prefetch": ceiling.CLIENT_PREFETCH,
        }

    def start(self, env: dict[str, str], log_dir: Path, procs: list[Proc]) -> None:
        asyncio.run(ceiling.reset_queues(self.queue_type, self.url))
        self._start_workers(env, log_dir, procs)

    def _start_workers(self, env: dict[str, str], log_dir: Path, procs: list[Proc]) -> None:
        workers = []
        for step in ceiling.STEPS:
            args = ["bench.ceiling", "worker", step, "--queue-type", self.queue_type]
            workers.append(start_process(f"worker {step}", python_module(*args), env, log_dir))
        procs.extend(workers)
        for proc in workers:
            proc.wait_for("started ", START_TIMEOUT)

    def run(self, case_ids: Sequence[str], load: Load) -> Tracker:
        return asyncio.run(ceiling.CeilingClient(self.url).run(case_ids, load))


class CeilingRelay(Ceiling):
    """The ceiling's workers behind a zero-cost relay with an intake queue (``bench.relay``):
    ours' shape, nothing inside."""

    name = "ceiling-relay"

    def __init__(self, url: str, queue_type: str) -> None:
        super().__init__(url, queue_type)
        self.settings["processes"] = (
            "5 raw aio-pika workers; a raw aio-pika relay process chains them, taking cases"
            " from an intake queue and answering each case's reply_to"
        )

    def start(self, env: dict[str, str], log_dir: Path, procs: list[Proc]) -> None:
        asyncio.run(relay.reset_queues(self.queue_type, self.url))
        command = python_module("bench.relay", "--queue-type", self.queue_type)
        procs.append(start_process("relay", command, env, log_dir))
        procs[0].wait_for(relay.READY_LINE, START_TIMEOUT)
        self._start_workers(env, log_dir, procs)

    def run(self, case_ids: Sequence[str], load: Load) -> Tracker:
        return asyncio.run(relay.run_cases(self.url, case_ids, load))


# --- celery ---------------------------------------------------------------------------------


class CelerySystem:
    """A Celery prefork worker running the chain (``bench.celery_chain``), in its durable
    configuration (``celery``) or its default one (``celery-default``)."""

    def __init__(self, url: str, queue_type: str, concurrency: int, config: str) -> None:
        self.url = url
        self.name = "celery" if config == "durable" else "celery-default"
        self.config = config
        self.queue_type = queue_type if config == "durable" else "classic"
        self.concurrency = concurrency
        durable = config == "durable"
        self.settings: dict[str, Any] = {
            "processes": f"1 worker, prefork pool of {concurrency}",
            "configuration": config,
            "queue_type": self.queue_type,
            "result_backend": "rpc://",
            "acks_late": durable,
            "delivery_mode": "persistent",
            "publisher_confirms": durable,
            "prefetch": 4 * concurrency if durable else 64,
        }
        # The module configures its app from the environment when first imported.
        os.environ["BENCH_QUEUE_TYPE"] = self.queue_type

    def start(self, env: dict[str, str], log_dir: Path, procs: list[Proc]) -> None:
        from bench import celery_chain

        asyncio.run(_delete_queues(self.url, [celery_chain.QUEUE]))
        env = {
            **env,
            celery_chain.QUEUE_TYPE_ENV: self.queue_type,
            celery_chain.CONFIG_ENV: self.config,
            celery_chain.CONCURRENCY_ENV: str(self.concurrency),
        }
        command = celery_chain.worker_command(self.concurrency)
        procs.append(start_process("celery worker", command, env, log_dir))
        procs[0].wait_for(celery_chain.READY_LINE, START_TIMEOUT)

    def run(self, case_ids: Sequence[str], load: Load) -> Tracker:
        from bench import celery_chain

        celery_chain.use(self.config, self.concurrency)  # a run may hold both configurations
        return celery_chain.run_cases(case_ids, load)


async def _delete_queues(url: str, names: Sequence[str]) -> None:
    """Delete queues (so they are redeclared empty, with the requested type)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)
    finally:
        await connection.close()


# --- measuring ------------------------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU seconds spent not idle by the whole machine so far (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(
    system: System, args: argparse.Namespace, env: dict[str, str], logs: Path
) -> dict[str, Any]:
    """Start ``system``, warm it up, run the measured batch, stop it; its figures."""
    log_dir = logs / system.name
    log_dir.mkdir(parents=True, exist_ok=True)
    load = Load(concurrency=args.concurrency, rate=args.rate, timeout=args.timeout)
    figures: dict[str, Any] = {
        "status": "failed",
        "queue_type": system.queue_type,
        "settings": system.settings,
        "load": load.describe(),
    }
    procs: list[Proc] = []
    before: list[ProcSample] = []
    after: list[ProcSample] = []
    final: list[ProcSample] = []
    broker = broker_pid()
    figures["cpu_probe_ms"] = cpu_probe_ms()  # before anything of the run starts
    try:
        progress(f"{system.name}: starting")
        system.start(env, log_dir, procs)
        if args.warmup:
            progress(f"{system.name}: warm-up, {args.warmup} cases")
            warm = [f"w{i}" for i in range(args.warmup)]
            warm_load = Load(concurrency=min(args.concurrency, args.warmup), timeout=WARMUP_TIMEOUT)
            summary = system.run(warm, warm_load).summary()
            figures["warmup"] = {k: summary[k] for k in ("results", "missing", "duplicates")}
        progress(f"{system.name}: {args.cases} cases, {load.describe()}")
        # The machine's window encloses the others, so "other" CPU is not made negative.
        machine0 = machine_busy_seconds()
        before = sample(procs, "pool")
        client0, broker0 = time.process_time(), _cpu_or_none(broker)
        database0 = postgres_cpu_seconds() if getattr(system, "store", "") == "postgresql" else None
        wal0 = current_wal(args.broker_wal)
        sampler = None
        if args.timeline:
            pids = {p.name: p.pid for p in procs} | {"client": os.getpid()}
            sampler = CpuSampler(pids | ({"broker": broker} if broker else {}))
            sampler.start()
        tracker = system.run([str(i) for i in range(args.cases)], load)
        client1, broker1 = time.process_time(), _cpu_or_none(broker)
        if database0 is not None:
            figures["database_cpu_seconds"] = round(postgres_cpu_seconds() - database0, 2)
        wal1 = current_wal(args.broker_wal)
        figures["broker_wal"] = {"before": wal0, "after": wal1}
        figures["broker_wal_rolled_over"] = rolled_over(wal0, wal1)
        if sampler is not None:
            figures["timeline"] = per_second(tracker, sampler.stop())
        after = sample(procs, "pool")
        machine1 = machine_busy_seconds()
        figures.update(tracker.summary())
        figures["client_cpu_seconds"] = round(client1 - client0, 2)
        figures["broker_cpu_seconds"] = (
            round(broker1 - broker0, 2) if broker0 is not None and broker1 is not None else None
        )
        figures["machine_cpu_seconds"] = round(machine1 - machine0, 2)
        problems = [f"{figures[k]} {k}" for k in ("missing", "duplicates", "wrong") if figures[k]]
        if problems:
            figures["error"] = ", ".join(problems)
        else:
            figures["status"] = "ok"
    except Exception as exc:
        figures["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        final = sample(procs, "pool")  # just before stopping
        codes = stop_all(procs)
        stop = getattr(system, "stop", None)
        if stop is not None:
            stop()
    figures["exit_codes"] = codes
    figures["processes"] = _process_rows(before, after, final)
    rows = figures["processes"]
    run_cpu = [p["cpu_seconds"] for p in rows]
    figures["system_cpu_seconds"] = round(sum(run_cpu), 2) if rows and None not in run_cpu else None
    figures["system_cpu_seconds_total"] = round(sum(p["cpu_seconds_total"] for p in rows), 2)
    figures["system_peak_rss_mib"] = round(sum(p["peak_rss_mib"] for p in rows), 1)
    parts = [
        figures.get(k) for k in ("system_cpu_seconds", "client_cpu_seconds", "broker_cpu_seconds")
    ]
    if None not in parts and figures.get("results"):
        used = sum(float(v) for v in parts if v is not None)
        used += float(figures.get("database_cpu_seconds") or 0.0)
        # CPU of the whole workload (system + client + broker + database) per case delivered.
        figures["cpu_ms_per_case"] = round(used * 1000 / figures["results"], 2)
        # CPU the machine spent on anything else meanwhile (another load skews the figures).
        figures["other_cpu_seconds"] = round(figures["machine_cpu_seconds"] - used, 2)
    if figures["status"] != "ok":
        figures["logs"] = str(log_dir)
    progress(
        f"{system.name}: {figures['status']}"
        + (f" ({figures.get('error')})" if figures["status"] != "ok" else "")
    )
    for line in slowest(figures.get("timeline") or []):
        progress(f"{system.name}: {line}")
    return figures


def _cpu_or_none(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        return cpu_seconds(pid)
    except OSError:
        return None


def _process_rows(
    before: Sequence[ProcSample], after: Sequence[ProcSample], final: Sequence[ProcSample]
) -> list[dict[str, Any]]:
    """Per process: CPU over the measured run, CPU in total and peak RSS at the end."""
    start = {s.pid: s.cpu_seconds for s in before}
    end = {s.pid: s.cpu_seconds for s in after}
    rows = []
    for s in final:
        run = end[s.pid] - start.get(s.pid, 0.0) if s.pid in end and before else None
        rows.append(
            {
                "name": s.name,
                "pid": s.pid,
                "cpu_seconds": round(run, 2) if run is not None else None,
                "cpu_seconds_total": round(s.cpu_seconds, 2),
                "peak_rss_mib": round(s.peak_rss_mib, 1),
            }
        )
    return rows


def progress(text: str) -> None:
    print(f"[compare] {text}", file=sys.stderr, flush=True)


# --- machine, table, chart ------------------------------------------------------------------


def machine_info(url: str) -> dict[str, Any]:
    """Cores, CPU, Python, RabbitMQ version (rabbitmqctl, else the broker's own report)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = None
    source = None
    if shutil.which("rabbitmqctl"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                ["rabbitmqctl", "version"], capture_output=True, text=True, timeout=30
            )
            if done.returncode == 0 and done.stdout.strip():
                version, source = done.stdout.strip().splitlines()[-1], "rabbitmqctl version"
    if version is None:
        with contextlib.suppress(Exception):
            version, source = asyncio.run(_server_version(url)), "AMQP server properties"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "rabbitmq": version,
        "rabbitmq_version_from": source,
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "code": code_version(),
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and which files differed from it (ours is measured as found)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "modified": None}
    return {"commit": commit or None, "modified": [line[3:] for line in changed]}


async def _server_version(url: str) -> str:
    connection = await aio_pika.connect(url)
    try:
        underlay = connection.transport.connection if connection.transport else None
        properties = underlay.server_properties if underlay else {}
        raw = properties.get("version", b"")
        return raw.decode() if isinstance(raw, bytes) else str(raw)
    finally:
        await connection.close()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _num(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: dict[str, dict[str, Any]], rate: float | None) -> None:
    """Results and latency; CPU and memory per system; then per process."""
    rate_col = f"{'rate/s':>8}" if rate else ""
    print(
        f"{'system':<9}{'queue':>8}{'status':>8}{'results':>8}{'miss':>6}{'dup':>5}{'closed':>7}{'escal':>7}"
        f"{rate_col}{'exec/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    )
    for name, r in results.items():
        lat = r.get("latency_ms") or {}
        rate_cell = f"{_num(r.get('publish_rate'), '.1f'):>8}" if rate else ""
        print(
            f"{name:<9}{r['queue_type']:>8}{r['status']:>8}{r.get('results', 0):>8}{r.get('missing', '-'):>6}"
            f"{r.get('duplicates', '-'):>5}{r.get('closed', '-'):>7}{r.get('escalated', '-'):>7}{rate_cell}"
            f"{r.get('executions_per_second', 0):>8.1f}{_num(lat.get('p50'), '.1f'):>9}"
            f"{_num(lat.get('p95'), '.1f'):>9}{_num(lat.get('p99'), '.1f'):>9}"
        )
    print()
    print(
        f"{'system':<9}{'CPU s':>8}{'client s':>10}{'broker s':>10}{'db s':>8}{'other s':>9}{'CPU ms/case':>13}{'peak RSS MiB':>14}"
    )
    for name, r in results.items():
        print(
            f"{name:<9}{_num(r.get('system_cpu_seconds'), '.2f'):>8}{_num(r.get('client_cpu_seconds'), '.2f'):>10}"
            f"{_num(r.get('broker_cpu_seconds'), '.2f'):>10}{_num(r.get('database_cpu_seconds'), '.2f'):>8}"
            f"{_num(r.get('other_cpu_seconds'), '.2f'):>9}"
            f"{_num(r.get('cpu_ms_per_case'), '.2f'):>13}{r['system_peak_rss_mib']:>14.1f}"
        )
    print()
    print(
        f"{'system':<9}{'process':<26}{'pid':>8}{'CPU s run':>11}{'CPU s total':>13}{'peak RSS MiB':>14}"
    )
    for name, r in results.items():
        for p in r["processes"]:
            print(
                f"{name:<9}{p['name']:<26}{p['pid']:>8}{_num(p['cpu_seconds'], '.2f'):>11}"
                f"{p['cpu_seconds_total']:>13.2f}{p['peak_rss_mib']:>14.1f}"
            )


def draw_chart(results: dict[str, dict[str, Any]], title: str, path: Path) -> None:
    """Throughput bars, and p50/p95/p99 latency bars, per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    throughput = [float(results[n].get("executions_per_second") or 0) for n in names]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    bars = left.bar(names, throughput, color=["#4c72b0", "#55a868", "#c44e52"][: len(names)])
    left.bar_label(bars, labels=[f"{t:.0f}" for t in throughput])
    left.set_ylabel("executions / s")
    left.set_title("Throughput")
    width = 0.25
    for i, q in enumerate(("p50", "p95", "p99")):
        values = [float((results[n].get("latency_ms") or {}).get(q) or 0) for n in names]
        positions = [x + (i - 1) * width for x in range(len(names))]
        right.bar(positions, values, width, label=q)
    right.set_xticks(range(len(names)), names)
    right.set_ylabel("latency (ms)")
    right.set_title("Latency")
    right.legend()
    for x, name in enumerate(names):
        if results[name]["status"] != "ok":
            left.annotate("failed", xy=(x, 0), ha="center", va="bottom", color="red")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --- rounds and the targets ---------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def median_round(rounds: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per system, its figures from the round with its median executions/s (lower middle)."""
    chosen: dict[str, dict[str, Any]] = {}
    for name in rounds[0]:
        runs = sorted(
            (one[name] for one in rounds), key=lambda r: r.get("executions_per_second") or 0
        )
        chosen[name] = runs[(len(runs) - 1) // 2]
    return chosen


def summarize(rounds: Sequence[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Executions/s per round and their medians; ours against the others, per round and overall.

    The overall ratio is of the medians; the per-round ratios show how much it moves.
    """
    names = list(rounds[0])
    rates = {n: [float(one[n].get("executions_per_second") or 0) for one in rounds] for n in names}
    summary: dict[str, Any] = {
        "executions_per_second": rates,
        # To the rates' own precision: a median of two rounded coarser could pass their max.
        "median_executions_per_second": {n: round(_median(v), 2) for n, v in rates.items()},
        "cpu_probe_ms": {n: [one[n].get("cpu_probe_ms") for one in rounds] for n in names},
        "broker_wal_rolled_over": {
            n: [one[n].get("broker_wal_rolled_over") for one in rounds] for n in names
        },
    }
    for ours in (n for n in names if n == "ours" or VARIANTS.match(n)):
        # Ours against every other system; a variant of ours against the other systems.
        others = [n for n in names if n != ours and (ours == "ours" or not n.startswith("ours"))]
        for other in others:
            per_round = [
                o / t if t else None for o, t in zip(rates[ours], rates[other], strict=True)
            ]
            median_other = _median(rates[other])
            summary[f"{ours}_over_{other}"] = {
                "per_round": [round(r, 3) if r is not None else None for r in per_round],
                "of_medians": round(_median(rates[ours]) / median_other, 3)
                if median_other
                else None,
            }
    return summary


def run_half_peak(
    ours: Callable[[], System],
    summary: dict[str, Any],
    args: argparse.Namespace,
    env: dict[str, str],
    logs: Path,
) -> dict[str, Any]:
    """Ours in open loop at half its median closed-loop peak, ``--rounds`` times: the p99s."""
    peak = summary["median_executions_per_second"]["ours"]
    rate = round(peak / 2, 1)
    open_loop = argparse.Namespace(**{**vars(args), "rate": rate})
    runs = []
    for number in range(1, args.rounds + 1):
        progress(f"half peak: ours at {rate:g} cases/s, run {number} of {args.rounds}")
        runs.append(measure(ours(), open_loop, env, logs / f"half-peak{number}"))
    p99s = [float((r.get("latency_ms") or {}).get("p99") or 0) for r in runs]
    return {
        "peak_executions_per_second": peak,
        "rate": rate,
        "p99_ms": p99s,
        "median_p99_ms": round(_median(p99s), 1),
        "runs": runs,
    }


def print_summary(summary: dict[str, Any], half_peak: dict[str, Any] | None) -> None:
    """Executions/s per round, the medians, ours' ratios; the p99s at half the peak."""
    rates: dict[str, list[float]] = summary["executions_per_second"]
    names = list(rates)
    ratios = [k for k in summary if k.startswith("ours") and "_over_" in k]
    header = f"{'round':<8}" + "".join(f"{n + ' exec/s':>16}" for n in names)
    header += "".join(f"{k.replace('_over_', '/'):>16}" for k in ratios)
    print(header)
    for index in range(len(rates[names[0]])):
        row = f"{index + 1:<8}" + "".join(f"{rates[n][index]:>16.1f}" for n in names)
        row += "".join(f"{_num(summary[k]['per_round'][index], '.2f'):>16}" for k in ratios)
        print(row)
    medians = summary["median_executions_per_second"]
    row = f"{'median':<8}" + "".join(f"{medians[n]:>16.1f}" for n in names)
    row += "".join(f"{_num(summary[k]['of_medians'], '.2f'):>16}" for k in ratios)
    print(row)
    probes = summary.get("cpu_probe_ms") or {}
    if probes:
        print(
            "machine speed probe before each run (ms, lower is faster): "
            + "; ".join(f"{n} " + " / ".join(_num(v, ".1f") for v in probes[n]) for n in probes)
        )
    if half_peak:
        p99s = " / ".join(f"{p:.1f}" for p in half_peak["p99_ms"])
        probed = " / ".join(_num(r.get("cpu_probe_ms"), ".1f") for r in half_peak["runs"])
        print(
            f"ours at half its median peak ({half_peak['rate']:g} of "
            f"{half_peak['peak_executions_per_second']:g} cases/s): p99 {p99s} ms, "
            f"median {half_peak['median_p99_ms']:.1f} ms (probe {probed} ms)"
        )
    print(rollover_note(summary, half_peak))


def rollover_note(summary: dict[str, Any], half_peak: dict[str, Any] | None) -> str:
    """Which measured runs spanned a rollover of the broker's quorum WAL (see bench.broker_wal)."""
    flags = [
        (f"{name} round {number}", flag)
        for name, per_round in (summary.get("broker_wal_rolled_over") or {}).items()
        for number, flag in enumerate(per_round, 1)
    ]
    if half_peak:
        flags += [
            (f"ours at half peak, run {number}", run.get("broker_wal_rolled_over"))
            for number, run in enumerate(half_peak["runs"], 1)
        ]
    spans = ", ".join(label for label, flag in flags if flag)
    note = (
        f"broker WAL rolled over (a stall of about a second) during: {spans}"
        if spans
        else "broker WAL rollovers: none during the measured runs"
    )
    unknown = sum(flag is None for _, flag in flags)
    if unknown:
        note += f"; unknown for {unknown} of {len(flags)} (WAL files not found: --broker-wal)"
    return note


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="measured cases per system")
    parser.add_argument(
        "--concurrency", type=int, default=100, help="cases outstanding (closed loop)"
    )
    parser.add_argument("--rate", type=float, default=None, help="open loop: publish R cases/s")
    parser.add_argument("--warmup", type=int, default=50, help="cases run first, not counted")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the systems this many times, interleaved; report medians and ratios",
    )
    parser.add_argument(
        "--half-peak",
        action="store_true",
        help="then run ours open loop at half its median peak, --rounds times (p99)",
    )
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=(
            f"comma-separated (default: {','.join(SYSTEMS)}); also ceiling-relay, and ours'"
            " variants ours-express, ours-pg, ours-pg2, ours-pg3"
        ),
    )
    parser.add_argument(
        "--queue-type",
        choices=("quorum", "classic"),
        default="quorum",
        help="queues of ceiling and celery (ours always uses quorum)",
    )
    parser.add_argument(
        "--celery-concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="prefork pool size (default: cores, Celery's default)",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=10,
        help="requests each of ours' workers handles at once (default: its prefetch, 10)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per system's measured run"
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="record each second's p50/p99 and every process's CPU; print the slowest seconds",
    )
    parser.add_argument(
        "--broker-wal",
        default=DEFAULT_PATTERN,
        help="glob of the broker's quorum WAL files, to mark runs that spanned a rollover",
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="ours' store: a fresh SQLite file, or a fresh database on $SFN_BENCH_POSTGRES",
    )
    parser.add_argument(
        "--replicas", type=int, default=1, help="orchestrators sharing ours' store (PostgreSQL)"
    )
    parser.add_argument(
        "--express", action="store_true", help="ours runs the cases as an EXPRESS machine"
    )
    parser.add_argument("--json", type=Path, default=Path("bench-results/compare.json"))
    parser.add_argument("--chart", type=Path, default=Path("bench-results/compare.png"))
    args = parser.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(s for s in set(systems) - {*SYSTEMS, *EXTRA_SYSTEMS} if not VARIANTS.match(s))
    if unknown or not systems:
        parser.error(
            f"unknown systems {unknown}; choose from {', '.join((*SYSTEMS, *EXTRA_SYSTEMS))}"
        )
    if args.cases < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--cases and --concurrency must be at least 1, --warmup at least 0")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.replicas < 1 or (args.replicas > 1 and args.store != "postgresql"):
        parser.error("--replicas needs --store postgresql (a SQLite file has one orchestrator)")
    if args.half_peak and (args.rate is not None or "ours" not in systems):
        parser.error("--half-peak needs a closed-loop run that includes ours")
    args.systems = systems
    return args


def _system(
    name: str, factories: dict[str, Callable[[], System]], url: str, args: argparse.Namespace
) -> System:
    """The system ``name`` stands for: one of ``factories``, or a variant of ours."""
    variant = VARIANTS.match(name)
    if variant is None:
        return factories[name]()
    if variant.group(1) == "express":
        ours = Ours(url, args.worker_concurrency, express=True)
    else:
        replicas = int(variant.group(2) or 1)
        ours = Ours(url, args.worker_concurrency, store="postgresql", replicas=replicas)
    ours.name = name
    return ours


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison, print the table, write the JSON and the chart; 0 when all passed."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop our processes on SIGTERM too
    url = amqp_url()
    env = {**os.environ, "AMQP_URL": url, "PYTHONUNBUFFERED": "1"}
    factories: dict[str, Callable[[], System]] = {
        "ours": lambda: Ours(
            url,
            args.worker_concurrency,
            store=args.store,
            replicas=args.replicas,
            express=args.express,
        ),
        "ceiling": lambda: Ceiling(url, args.queue_type),
        "ceiling-relay": lambda: CeilingRelay(url, args.queue_type),
        "celery": lambda: CelerySystem(url, args.queue_type, args.celery_concurrency, "durable"),
        "celery-default": lambda: CelerySystem(
            url, args.queue_type, args.celery_concurrency, "default"
        ),
    }
    machine = machine_info(url)
    logs = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    # Rounds interleave the systems (A B C, A B C, ...): a machine whose speed drifts during
    # the run then weighs on every system alike, instead of on whichever ran last.
    rounds: list[dict[str, dict[str, Any]]] = []
    for number in range(1, args.rounds + 1):
        if args.rounds > 1:
            progress(f"round {number} of {args.rounds}")
        rounds.append(
            {
                name: measure(
                    _system(name, factories, url, args), args, env, logs / f"round{number}"
                )
                for name in args.systems  # an ImportError (no celery) fails in measure()
            }
        )
    results = median_round(rounds)
    summary = summarize(rounds)
    half_peak = None
    if args.half_peak:
        half_peak = run_half_peak(factories["ours"], summary, args, env, logs)
    load = f"rate {args.rate:g}/s" if args.rate else f"C={args.concurrency}"
    print(
        f"call-center workflow, N={args.cases} cases, {load}, warm-up {args.warmup}, "
        f"queues {args.queue_type} (ours: quorum), {machine['cores']} cores, RabbitMQ {machine['rabbitmq']}"
    )
    if args.rounds > 1:
        print(f"(each system's round with its median exec/s, of {args.rounds} rounds)")
    print_table(results, args.rate)
    print()
    print_summary(summary, half_peak)
    parameters = {
        "cases": args.cases,
        "concurrency": None if args.rate else args.concurrency,
        "rate": args.rate,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "queue_type": args.queue_type,
        "celery_concurrency": args.celery_concurrency,
        "timeout_seconds": args.timeout,
        "systems": args.systems,
        "amqp_vhost": unquote(urlsplit(url).path[1:]) or "/",
    }
    report = {
        "machine": machine,
        "parameters": parameters,
        "summary": summary,
        "systems": results,
        "rounds": rounds,
        "half_peak": half_peak,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    title = f"call-center workflow: N={args.cases}, {load}, {args.queue_type} queues, {machine['cores']} cores"
    draw_chart(results, title, args.chart)
    print(f"wrote {args.chart}")
    measured = [r for one in rounds for r in one.values()]
    measured += half_peak["runs"] if half_peak else []
    ok = all(r["status"] == "ok" for r in measured)
    if ok:
        shutil.rmtree(logs, ignore_errors=True)
    else:
        print(f"logs kept in {logs}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
