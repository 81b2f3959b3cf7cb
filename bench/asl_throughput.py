"""In-process interpreter throughput: how many state transitions per second, and how cost grows.

Runs the pure interpreter through the in-process runner (fake clock, no broker, no store) on
one core:
- a chain of N Pass states, each with Parameters (a `.$` path) and a ResultPath;
- the same chain in JSONata: each state's Output an object with one `{% %}` expression
  reading `$states.input`, and an Assign of one variable (what JSONata machines do most);
- an inline Map over N items whose iteration is one Pass state with Parameters, run as
  STANDARD (within the 25,000-event history cap) and as EXPRESS (no cap, as in AWS).

Each size runs REPEAT times after one warm-up; the table shows medians. Linear cost shows as a
flat "us/transition" column. Usage:

    python -m bench.asl_throughput [--repeat 5] [--json bench-results/asl_throughput.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from orchestrator.asl.definition import StateMachine
from orchestrator.asl.loader import load_definition
from orchestrator.local_runner import FakeClock, run_local


def pass_chain(length: int) -> StateMachine:
    """N Pass states, each with Parameters and ResultPath, one after the other."""
    states: dict[str, Any] = {
        f"S{i}": {
            "Type": "Pass",
            "Parameters": {"step": i, "previous.$": "$.last.step"},
            "ResultPath": "$.last",
            "Next": f"S{i + 1}",
        }
        for i in range(length)
    }
    last = states[f"S{length - 1}"]
    del last["Next"]
    last["End"] = True
    return load_definition(json.dumps({"StartAt": "S0", "States": states}), name="Chain")


def jsonata_chain(length: int) -> StateMachine:
    """N JSONata Pass states, each with an Output expression and an Assign."""
    states: dict[str, Any] = {
        f"S{i}": {
            "Type": "Pass",
            "Output": {"last": {"step": i, "previous": "{% $states.input.last.step %}"}},
            "Assign": {"reached": i},
            "Next": f"S{i + 1}",
        }
        for i in range(length)
    }
    last = states[f"S{length - 1}"]
    del last["Next"]
    last["End"] = True
    document = {"QueryLanguage": "JSONata", "StartAt": "S0", "States": states}
    return load_definition(json.dumps(document), name="JsonataChain")


def item_map(express: bool) -> StateMachine:
    """A Map over $.items whose iteration is one Pass state with Parameters."""
    definition = {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
                "ItemProcessor": {
                    "StartAt": "Double",
                    "States": {
                        "Double": {"Type": "Pass", "Parameters": {"v.$": "$.value"}, "End": True}
                    },
                },
                "End": True,
            }
        },
    }
    machine = load_definition(json.dumps(definition), name="Map")
    return dataclasses.replace(machine, type="EXPRESS") if express else machine


def measure(machine: StateMachine, data: Any, repeat: int) -> tuple[float, int, str]:
    """Median seconds of ``repeat`` runs (after a warm-up), transitions per run, status."""
    result = run_local(machine, data, {}, clock=FakeClock())
    transitions = sum(1 for e in result.history if e.type.endswith("StateEntered"))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_local(machine, data, {}, clock=FakeClock())
        times.append(time.perf_counter() - start)
    return statistics.median(times), transitions, result.state.status


def main() -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("bench-results/asl_throughput.json"))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    cases: list[tuple[str, StateMachine, Any, int]] = []
    for length in (1000, 2000, 4000):
        cases.append(("Pass chain", pass_chain(length), {"last": {"step": -1}}, length))
    for length in (1000, 2000, 4000):
        cases.append(("JSONata chain", jsonata_chain(length), {"last": {"step": -1}}, length))
    standard, express = item_map(False), item_map(True)
    for items in (1000, 2500, 5000):
        cases.append(("Map STANDARD", standard, {"items": list(range(items))}, items))
    for items in (1000, 5000, 10000):
        cases.append(("Map EXPRESS", express, {"items": list(range(items))}, items))
    rows = []
    print(
        f"{'workload':<14}{'size':>7}{'status':>11}{'transitions':>13}{'median s':>10}{'trans/s':>10}{'us/trans':>10}"
    )
    for name, machine, data, size in cases:
        seconds, transitions, status = measure(machine, data, args.repeat)
        rate = transitions / seconds
        rows.append(
            {
                "workload": name,
                "size": size,
                "status": status,
                "transitions": transitions,
                "median_seconds": round(seconds, 5),
                "transitions_per_second": round(rate),
                "microseconds_per_transition": round(1e6 / rate, 2),
            }
        )
        print(
            f"{name:<14}{size:>7}{status:>11}{transitions:>13}{seconds:>10.3f}{rate:>10.0f}{1e6 / rate:>10.1f}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    machine_info = {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores_used": 1,
    }
    args.json.write_text(
        json.dumps({"machine": machine_info, "repeat": args.repeat, "rows": rows}, indent=2)
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
