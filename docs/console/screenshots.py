"""Make the README's screenshots of the web console (docs/console/*.png).

Starts an orchestrator (API and console on a free port) and the five call-center workers on
the RabbitMQ at ``AMQP_URL``, runs a few executions, and photographs each page in headless
Chromium (Debian's ``chromium``). Usage: ``python docs/console/screenshots.py [OUT_DIR]``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.console.test_console_browser import (  # noqa: E402
    DEFINITIONS,
    finished,
    free_port,
    start_execution,
)
from tests.processes import WORKER_NAMES, start, start_orchestrator  # noqa: E402

FAN_OUT = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Check stock",
                    "States": {
                        "Check stock": {"Type": "Pass", "Next": "Reserve"},
                        "Reserve": {"Type": "Wait", "Seconds": 1, "End": True},
                    },
                },
                {"StartAt": "Price", "States": {"Price": {"Type": "Pass", "End": True}}},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
            "Next": "Each line",
        },
        "Each line": {
            "Type": "Map",
            "ItemsPath": "$[0]",
            "ItemProcessor": {
                "StartAt": "Ship",
                "States": {"Ship": {"Type": "Pass", "End": True}},
            },
            "End": True,
        },
        "Recover": {"Type": "Fail", "Error": "Unavailable"},
    },
}


def main() -> None:
    """Run the executions and write the screenshots."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "console"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="console-shots-"))
    definitions = tmp / "definitions"
    definitions.mkdir()
    for name in ("CallCenterStateMachine", "CallCenterJsonata"):
        shutil.copy(REPO / "definitions" / f"{name}.asl.json", definitions)
    for name, document in {**DEFINITIONS, "FanOut": FAN_OUT}.items():
        (definitions / f"{name}.asl.json").write_text(json.dumps(document))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    services = [start_orchestrator(env, tmp, tmp / "sfn.db", definitions, api_port=port)]
    services += [start(f"worker-{w}", ["workers", w], env, tmp) for w in WORKER_NAMES]
    for service in services[1:]:
        service.wait_for("started ")
    try:
        arns: dict[str, str] = {}
        for i in range(16):
            arn = start_execution(base, "CallCenterStateMachine", {"inputCaseID": f"{i:03d}"})
            arns.setdefault(finished(base, arn)["status"], arn)
        for machine, data in (
            ("CallCenterJsonata", {"inputCaseID": "J01"}),
            ("FanOut", {"lines": 3}),
            ("HundredItems", {"items": list(range(100))}),
        ):
            arns[machine] = start_execution(base, machine, data)
            finished(base, arns[machine])
        shots(base, arns, out)
    finally:
        for service in services:
            service.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def shots(base: str, arns: dict[str, str], out: Path) -> None:
    """Photograph each page (light theme; the failed execution in dark too)."""

    def execution(key: str) -> str:
        return f"/#/execution/{urllib.parse.quote(arns[key], safe='')}"

    def running() -> str:  # started just before its photograph, so it is still running
        arn = start_execution(base, "WaitBriefly", {})
        return f"/#/execution/{urllib.parse.quote(arn, safe='')}"

    pages = [
        ("machines", "/#/", "table", None, None),
        ("machine", "/#/machine/CallCenterJsonata", "g.state", None, None),
        ("executions", "/#/executions", "#executions", None, None),
        (
            "execution-running",
            running,
            '[data-state-name="Pause"][data-status="RUNNING"]',
            None,
            None,
        ),
        (
            "execution-succeeded",
            execution("SUCCEEDED"),
            "g.state",
            '[data-state-name="Work on Case"]',
            None,
        ),
        ("execution-failed", execution("FAILED"), "g.state", "#goto-failure", None),
        (
            "execution-parallel-map",
            execution("FanOut"),
            "g.state",
            '[data-state-name="Ship"]',
            None,
        ),
        ("execution-table", execution("HundredItems"), "g.state", None, "Table"),
        ("execution-events", execution("CallCenterJsonata"), "g.state", None, "Events"),
        ("queues", "/#/queues", "#queues tbody tr", None, None),
    ]
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for theme in ("light", "dark"):
            page = browser.new_page(viewport={"width": 1400, "height": 900}, color_scheme=theme)
            for name, path, ready, click, tab in pages:
                if theme == "dark" and name != "execution-failed":
                    continue
                page.goto(base + (path() if callable(path) else path))
                page.wait_for_selector(ready)
                if click:
                    page.locator(click).first.click()
                if tab:
                    page.click(f'button[data-tab="{tab}"]')
                time.sleep(0.5)
                suffix = "-dark" if theme == "dark" else ""
                page.screenshot(path=str(out / f"{name}{suffix}.png"))
        browser.close()


if __name__ == "__main__":
    main()
