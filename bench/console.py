"""The web console's speed: paging through 100,000 executions, and drawing an execution with
1,000 states entered, measured through a real orchestrator and a real Chromium.

1. A store is filled with N finished call-center executions (rows written straight into the
   SQLite file, as the engine would leave them after finishing; their histories are not
   needed to list them), then the orchestrator serves it with the API and console on a free
   port, on the RabbitMQ at ``AMQP_URL``.
2. ``/console/api/executions`` is timed (HTTP, from this process): the first page of 50, a
   page up to 100 pages deep (by following cursors), a page filtered by status, and one by
   name prefix; each ``--repeat`` times, medians printed.
3. A chain of ``--states`` Pass states is run once through the console's start endpoint, then
   its execution page is opened ``--repeat`` times in headless Chromium (Debian's
   ``chromium``): the time from navigation until every state of the graph is coloured
   SUCCEEDED and the table holds a row for each step.

Usage::

    python -m bench.console [--executions 100000] [--states 1000] [--repeat 5]
        [--json bench-results/console.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.store import SqliteStore

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "arn:aws:states:us-east-1:123456789012"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def fill(db: Path, count: int) -> None:
    """``count`` finished CallCenterStateMachine executions, a second apart, newest last."""
    SqliteStore(db).close()  # the schema
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(count):
        name = f"case-{i:06d}"
        started = start + timedelta(seconds=i)
        rows.append(
            (
                f"{ACCOUNT}:execution:CallCenterStateMachine:{name}",
                "CallCenterStateMachine",
                name,
                "SUCCEEDED" if i % 10 < 7 else "FAILED",
                json.dumps({"inputCaseID": f"{i:06d}"}),
                "{}",
                started.isoformat(),
                (started + timedelta(milliseconds=40)).isoformat(),
            )
        )
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO executions (arn, state_machine, name, status, input, state,"
            " start_date, stop_date) VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )


def chain(length: int) -> dict[str, Any]:
    """A chain of ``length`` Pass states."""
    states: dict[str, Any] = {
        f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(length - 1)
    }
    states[f"S{length - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "S0", "States": states}


def get(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def timed(url: str, repeat: int) -> tuple[float, Any]:
    """Median milliseconds of ``repeat`` GETs of ``url``, and the last answer."""
    times, answer = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        answer = get(url)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), answer


def serve(tmp: Path, definitions: Path, db: Path) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp / "orchestrator.log").open("w")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "orchestrator", "--definitions", str(definitions)),
            *("--db", str(db), "--api-port", str(port)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get(base + "/console/api/state-machines")
            return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the orchestrator did not serve; see {tmp / 'orchestrator.log'}")


def list_pages(base: str, count: int, repeat: int) -> dict[str, float]:
    """Median milliseconds of list pages: the first, one deep, by status, by name prefix."""
    api = base + "/console/api/executions?limit=50"
    results = {}
    results["first page"], _ = timed(api, repeat)
    cursor = ""
    for _ in range(max(1, min(100, count // 50 - 1))):
        suffix = f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""
        cursor = get(api + suffix)["cursor"]
    deep = api + f"&cursor={urllib.parse.quote(cursor)}"
    results["page deep (by cursor)"], _ = timed(deep, repeat)
    results["status FAILED"], _ = timed(api + "&status=FAILED", repeat)
    prefix = f"case-{count // 2:06d}"[:-2]  # the middle hundred
    results["name prefix"], answer = timed(api + f"&name={prefix}", repeat)
    assert len(answer["executions"]) == 50, answer
    return results


def draw(base: str, states: int, repeat: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    machine = "Chain"
    arn = get(base + "/console/api/start", {"stateMachine": machine, "input": "{}"})["executionArn"]
    while (
        get(base + f"/console/api/execution?arn={urllib.parse.quote(arn)}")["execution"]["status"]
        == "RUNNING"
    ):
        time.sleep(0.2)
    json_ms, _ = timed(base + f"/console/api/execution?arn={urllib.parse.quote(arn)}", repeat)
    url = f"{base}/#/execution/{urllib.parse.quote(arn, safe='')}"
    last = f'g.state[data-state-name="S{states - 1}"][data-status="SUCCEEDED"]'
    times = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for _ in range(repeat + 1):  # the first run warms the browser's caches
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            began = time.perf_counter()
            page.goto(url)
            page.wait_for_selector(last, state="attached", timeout=60_000)
            page.wait_for_function(
                f"document.querySelectorAll('#table-view tbody tr').length === {states}"
            )
            page.evaluate("new Promise(requestAnimationFrame)")  # painted
            times.append((time.perf_counter() - began) * 1000)
            coloured = page.locator('g.state[data-status="SUCCEEDED"]').count()
            assert coloured == states, coloured
            page.close()
        browser.close()
    return {"execution JSON": json_ms, "page drawn (graph + table)": statistics.median(times[1:])}


def main() -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--states", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("bench-results/console.json"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="console-bench-"))
    definitions = tmp / "definitions"
    definitions.mkdir()
    shutil.copy(REPO / "definitions" / "CallCenterStateMachine.asl.json", definitions)
    (definitions / "Chain.asl.json").write_text(json.dumps(chain(args.states)))
    db = tmp / "sfn.db"
    began = time.perf_counter()
    fill(db, args.executions)
    print(
        f"filled the store with {args.executions} executions in {time.perf_counter() - began:.1f} s"
    )
    process, base = serve(tmp, definitions, db)
    try:
        results = {
            **list_pages(base, args.executions, args.repeat),
            **draw(base, args.states, args.repeat),
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"{'measure':<30}{'median ms':>10}")
    for name, value in results.items():
        print(f"{name:<30}{value:>10.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "executions": args.executions,
                "states": args.states,
                "repeat": args.repeat,
                "median_ms": {k: round(v, 1) for k, v in results.items()},
            },
            indent=2,
        )
    )
    print(f"wrote {args.json}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
