"""Distributed Map at scale: N items, each a child execution whose Task calls a worker.

A real orchestrator (its own SQLite file, the API on a free port) and the call center's
OpenCaseFunction worker, on the RabbitMQ at ``AMQP_URL``. For each size (default 1,000,
5,000 and 10,000 items) one execution of a machine whose one state is a Distributed Map
(MaxConcurrency ``--concurrency``) is started through the API (boto3) and timed to its end.
Reported per size: wall seconds, milliseconds per item, the children listed by the Map Run,
the parent's history length (its events do not grow with the items), and the orchestrator's
peak resident memory after that size. "Flat within 1.5x" means the largest per-item cost is
at most 1.5 times the smallest.

Usage::

    python -m bench.distributed_map [--sizes 1000,5000,10000] [--concurrency 1000]
        [--json bench-results/distributed_map.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
OPEN_CASE = "arn:aws:lambda:us-east-1:123456789012:function:OpenCaseFunction"
ROLE = "arn:aws:iam::123456789012:role/bench"


def definition(concurrency: int) -> dict[str, Any]:
    """A Distributed Map over ``$.items``; each child opens one case (a worker call)."""
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": concurrency,
                "ItemSelector": {"inputCaseID.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Open",
                    # A child's output is its case ID: 10,000 of them stay under 256 KiB.
                    "States": {
                        "Open": {
                            "Type": "Task",
                            "Resource": OPEN_CASE,
                            "OutputPath": "$.Case",
                            "End": True,
                        }
                    },
                },
                "ResultSelector": {"count.$": "States.ArrayLength($)"},
                "End": True,
            }
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_serving(sfn: Any, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            sfn.list_state_machines()
            return
        except Exception:  # not up yet
            time.sleep(0.2)
    raise RuntimeError("the orchestrator did not serve")


def run_size(sfn: Any, arn: str, size: int, timeout: float) -> dict[str, Any]:
    items = [f"{i:06d}" for i in range(size)]
    began = time.perf_counter()
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": items}))
    execution = started["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{size} items: still running after {timeout} s")
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    if described["status"] != "SUCCEEDED":
        raise RuntimeError(f"{size} items: {described['status']} {described.get('cause')}")
    assert json.loads(described["output"]) == {"count": size}, described["output"]
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    map_run = sfn.list_map_runs(executionArn=execution)["mapRuns"][0]["mapRunArn"]
    counts = sfn.describe_map_run(mapRunArn=map_run)["itemCounts"]
    return {
        "items": size,
        "seconds": round(seconds, 2),
        "ms_per_item": round(seconds * 1000 / size, 3),
        "children_succeeded": counts["succeeded"],
        "parent_events": len(events),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SFN_ACCESS_KEY_ID", None)
    with tempfile.TemporaryDirectory(prefix="bench-dmap-") as folder:
        tmp = Path(folder)
        port = free_port()
        orchestrator = start(
            [
                *("orchestrator", "--definitions", str(REPO / "definitions")),
                *("--db", str(tmp / "sfn.db"), "--api-port", str(port)),
            ],
            tmp / "orchestrator.log",
            env,
        )
        worker = start(["workers", "open"], tmp / "worker.log", env)
        try:
            sfn = boto3.client(
                "stepfunctions",
                endpoint_url=f"http://127.0.0.1:{port}",
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
                config=Config(retries={"max_attempts": 1}),
            )
            wait_serving(sfn, time.monotonic() + 60)
            arn = sfn.create_state_machine(
                name=f"DistBench{uuid.uuid4().hex[:8]}",
                definition=json.dumps(definition(args.concurrency)),
                roleArn=ROLE,
            )["stateMachineArn"]
            rows = []
            for size in sizes:
                row = run_size(sfn, arn, size, args.timeout)
                row["orchestrator_peak_rss_mb"] = round(peak_rss_mb(orchestrator.pid), 1)
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            for process in (worker, orchestrator):
                process.terminate()
                process.wait(timeout=30)
    costs = [row["ms_per_item"] for row in rows]
    ratio = max(costs) / min(costs)
    summary = {
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "concurrency": args.concurrency,
        "runs": rows,
        "per_item_cost_ratio": round(ratio, 2),
        "flat_within_1_5x": ratio <= 1.5,
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
