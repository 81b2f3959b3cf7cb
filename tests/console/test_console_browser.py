"""The web console in a real headless Chromium, against a real orchestrator on the real broker.

One orchestrator process (API and console on a free port) with the five call-center workers;
executions are started through the console's own start endpoint and watched in the browser.
The assertions use the console's testing contract: ``data-state-name`` and ``data-status`` on
each state of the graph, a click opens a panel with the state's input and output as JSON
text, and the executions list links each execution with its name as the link text.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.amqp import purge_topology
from tests.processes import REPO, WORKER_NAMES, Service, start, start_orchestrator

pytestmark = pytest.mark.integration
playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

DEFINITIONS: dict[str, dict[str, Any]] = {
    "WaitBriefly": {
        "StartAt": "Begin",
        "States": {
            "Begin": {"Type": "Pass", "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 3, "Next": "Finish"},
            "Finish": {"Type": "Pass", "Result": {"done": True}, "End": True},
        },
    },
    "HundredItems": {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "Double",
                    "States": {"Double": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}},
                },
                "End": True,
            }
        },
    },
    "DistributedItems": {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "Label": "Fan",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Echo",
                    "States": {"Echo": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    },
    "NobodyServes": {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:GhostFunction",
                "End": True,
            }
        },
    },
    "FailsOnce": {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Next": "Pick"},
            "Pick": {
                "Type": "Pass",
                "Parameters": {
                    # Index -1 on the first run (fails), 0 once redriven.
                    "v.$": "States.ArrayGetItem(States.ArrayRange(7, 7, 1),"
                    " States.MathAdd($$.Execution.RedriveCount, -1))"
                },
                "End": True,
            },
        },
    },
    "AlwaysFails": {
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Pass", "Next": "Give Up"},
            "Give Up": {"Type": "Fail", "Error": "Refused", "Cause": "The order cannot be filled."},
        },
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def console(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console's base URL, served by an orchestrator with the call-center workers."""
    if not Path(CHROMIUM).exists():
        message = f"the console's browser tests need Chromium at {CHROMIUM}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("console")
    definitions = tmp / "definitions"
    definitions.mkdir()
    shutil.copy(REPO / "definitions" / "CallCenterStateMachine.asl.json", definitions)
    for name, document in DEFINITIONS.items():
        (definitions / f"{name}.asl.json").write_text(json.dumps(document, indent=2))
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env.pop("SFN_ACCESS_KEY_ID", None)
    asyncio.run(_purge(amqp_url))
    port = free_port()
    services: list[Service] = []
    try:
        services.append(start_orchestrator(env, tmp, tmp / "sfn.db", definitions, api_port=port))
        for worker in WORKER_NAMES:
            services.append(start(f"worker-{worker}", ["workers", worker], env, tmp))
        for service in services[1:]:
            service.wait_for("started ")
        yield f"http://127.0.0.1:{port}"
    finally:
        for service in services:
            service.stop()
        asyncio.run(_purge(amqp_url))


async def _purge(url: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    await purge_topology(await connection.channel())
    # The queue of the function nobody serves keeps its task otherwise.
    await (await connection.channel()).queue_delete("lambda.GhostFunction")
    await connection.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def call(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def start_execution(base: str, machine: str, data: Any, name: str | None = None) -> str:
    body = {"stateMachine": machine, "input": json.dumps(data)}
    if name:
        body["name"] = name
    return str(call(base, "/console/api/start", body)["executionArn"])


def finished(base: str, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = call(base, f"/console/api/execution?arn={urllib.parse.quote(arn)}")
        if answer["execution"]["status"] != "RUNNING":
            return dict(answer["execution"])
        time.sleep(0.1)
    raise AssertionError(f"{arn} did not finish")


def state(page: Any, name: str) -> Any:
    return page.locator(f'g.state[data-state-name="{name}"]')


def open_execution(page: Any, base: str, arn: str) -> None:
    page.goto(f"{base}/#/execution/{urllib.parse.quote(arn, safe='')}")
    # Going from one execution's page to another's changes the hash only: wait until this
    # execution's page (its name is the title) has replaced the one before.
    name = arn.rsplit(":", 1)[-1]
    page.wait_for_function(
        "name => document.title.startsWith(name + ' - ')", arg=name, timeout=15_000
    )
    page.wait_for_selector("g.state[data-state-name]")


def both_outcomes(base: str) -> dict[str, str]:
    """A resolved and an escalated call-center execution (Work on Case tosses a coin)."""
    found: dict[str, str] = {}
    for i in range(24):
        arn = start_execution(base, "CallCenterStateMachine", {"inputCaseID": f"{i:03d}"})
        found.setdefault(finished(base, arn)["status"], arn)
        if {"SUCCEEDED", "FAILED"} <= found.keys():
            return found
    raise AssertionError(f"24 cases gave only {sorted(found)}")


def test_the_call_center_outcomes_are_coloured_and_the_failure_is_explained(
    console: str, page: Any
) -> None:
    outcomes = both_outcomes(console)
    open_execution(page, console, outcomes["SUCCEEDED"])
    for name in ("Open Case", "Assign Case", "Work on Case", "Is Case Resolved", "Close Case"):
        assert state(page, name).get_attribute("data-status") == "SUCCEEDED", name
    for name in ("Escalate Case", "Fail"):
        assert state(page, name).get_attribute("data-status") == "NOT_STARTED", name
    assert page.locator("#error-banner").count() == 0

    open_execution(page, console, outcomes["FAILED"])
    assert state(page, "Fail").get_attribute("data-status") == "FAILED"
    assert state(page, "Escalate Case").get_attribute("data-status") == "SUCCEEDED"
    assert state(page, "Close Case").get_attribute("data-status") == "NOT_STARTED"
    banner = page.locator("#error-banner")
    assert "Engage Tier 2 Support." in banner.inner_text()
    page.click("#goto-failure")
    assert page.locator("#step-panel h3").inner_text() == "Fail"


def test_a_click_on_a_state_shows_its_input_and_output(console: str, page: Any) -> None:
    arn = start_execution(console, "CallCenterStateMachine", {"inputCaseID": "077"})
    finished(console, arn)
    open_execution(page, console, arn)
    state(page, "Open Case").click()
    panel = page.locator("#step-panel")
    assert json.loads(panel.locator('pre[data-field="input"]').inner_text()) == {
        "inputCaseID": "077"
    }
    assert json.loads(panel.locator('pre[data-field="output"]').inner_text()) == {
        "Case": "077",
        "Message": "Case 077: opened...",
    }
    assert "OpenCaseFunction" in panel.inner_text()
    stages = panel.locator("#stages li").evaluate_all("items => items.map(i => i.dataset.stage)")
    assert stages == [
        "State input",
        "After InputPath",
        "Task result",
        "After ResultPath",
        "State output (after OutputPath)",
    ]


def test_a_running_wait_turns_succeeded_without_a_reload(console: str, page: Any) -> None:
    arn = start_execution(console, "WaitBriefly", {"n": 1})
    open_execution(page, console, arn)
    page.evaluate("window.__notReloaded = true")
    page.wait_for_selector('g.state[data-state-name="Pause"][data-status="RUNNING"]')
    page.wait_for_selector(
        'g.state[data-state-name="Finish"][data-status="SUCCEEDED"]', timeout=20_000
    )
    assert state(page, "Pause").get_attribute("data-status") == "SUCCEEDED"
    assert page.evaluate("window.__notReloaded") is True
    page.wait_for_selector('h1 .badge[data-status="SUCCEEDED"]')


def test_a_map_of_100_items_is_navigable(console: str, page: Any) -> None:
    arn = start_execution(console, "HundredItems", {"items": list(range(100))})
    finished(console, arn)
    open_execution(page, console, arn)
    assert state(page, "Each").get_attribute("data-status") == "SUCCEEDED"
    assert state(page, "Double").get_attribute("data-status") == "SUCCEEDED"
    state(page, "Double").click()
    choice = page.locator("#step-choice option")
    assert choice.count() == 100
    # Each entry names its item (read from the history's previousEventId chains).
    labels = choice.all_inner_texts()
    assert sorted(int(label.split("(item ")[1].split(")")[0]) for label in labels) == list(
        range(100)
    )
    entry = next(i for i, label in enumerate(labels) if "(item 41)" in label)
    page.select_option("#step-choice", str(entry))
    shown = json.loads(page.locator('#step-panel pre[data-field="output"]').inner_text())
    assert shown == {"v": 41}
    page.click('button[data-tab="Table"]')
    assert page.locator('#table-view tr[data-step="Double"]').count() == 100
    # Every timeline bar lies inside its track.
    lefts = page.eval_on_selector_all(
        "#table-view .timeline .bar", "bars => bars.map(b => parseFloat(b.style.left))"
    )
    assert len(lefts) == 101 and all(0 <= left <= 100 for left in lefts), lefts


def test_the_executions_list_links_pages_and_filters(console: str, page: Any) -> None:
    failed = start_execution(console, "AlwaysFails", {}, name="list-failed-1")
    finished(console, failed)
    for i in range(55):
        start_execution(console, "WaitBriefly", {}, name=f"list-wait-{i:02d}")
    page.goto(f"{console}/#/executions?machine=AlwaysFails")
    page.wait_for_selector("#executions")
    link = page.get_by_role("link", name="list-failed-1")
    assert link.count() == 1
    link.click()
    page.wait_for_selector("#error-banner")
    assert "The order cannot be filled." in page.locator("#error-banner").inner_text()
    assert state(page, "Give Up").get_attribute("data-status") == "FAILED"

    page.goto(f"{console}/#/executions?machine=WaitBriefly")
    page.wait_for_selector("#executions")
    first = page.locator("#executions tbody tr").count()
    assert first == 50
    page.click("#next-page")
    page.wait_for_function("document.querySelectorAll('#executions tbody tr').length !== 50")
    assert page.locator("#executions tbody tr").count() >= 5
    page.goto(f"{console}/#/executions?machine=WaitBriefly&name=list-wait-1")
    # The page before's table stays until the filtered one replaces it: wait for that.
    page.wait_for_function(
        "(() => { const names = [...document.querySelectorAll("
        "'#executions tbody td:first-child a')].map((a) => a.textContent);"
        " return names.length > 0 && names.every((n) => n.startsWith('list-wait-1')); })()"
    )
    names = page.locator("#executions tbody td:first-child a").all_inner_texts()
    assert sorted(names) == [f"list-wait-{i}" for i in range(10, 20)]
    page.goto(f"{console}/#/executions?machine=WaitBriefly&before=2000-01-01T00:00")
    page.wait_for_selector("text=No executions.")
    page.goto(f"{console}/#/executions?machine=WaitBriefly&after=2000-01-01T00:00")
    page.wait_for_selector("#executions")
    assert page.locator("#executions tbody tr").count() == 50


def test_an_execution_is_started_from_the_state_machine_page(console: str, page: Any) -> None:
    page.goto(f"{console}/#/machine/AlwaysFails")
    page.wait_for_selector("#start-input")
    page.fill("#start-input", "{not json")
    assert page.locator("form button[type=submit]").is_disabled()
    assert "Not JSON" in page.locator("#input-problem").inner_text()
    page.fill("#start-input", '{"order": 7}')
    page.fill("#start-name", "from-the-console")
    page.click("form button[type=submit]")
    page.wait_for_selector('h1:has-text("from-the-console")')
    page.wait_for_selector('g.state[data-state-name="Give Up"][data-status="FAILED"]')
    state(page, "Check").click()
    assert json.loads(page.locator('#step-panel pre[data-field="input"]').inner_text()) == {
        "order": 7
    }


def test_the_queues_page_shows_consumers_and_flags_a_function_nobody_serves(
    console: str, page: Any
) -> None:
    start_execution(console, "NobodyServes", {"waiting": True})
    page.goto(f"{console}/#/queues")
    page.wait_for_selector('#queues tr[data-queue="lambda.OpenCaseFunction"]')
    served = page.locator('#queues tr[data-queue="lambda.OpenCaseFunction"] td').all_inner_texts()
    assert served[1] == "1"  # one worker consumes it
    ghost = page.locator('#queues tr[data-queue="lambda.GhostFunction"][data-unserved="true"]')
    ghost.wait_for(timeout=15_000)  # sampled every 2 s; the page refreshes itself
    cells = ghost.locator("td").all_inner_texts()
    assert cells[1] == "0" and cells[3] == "1"  # no consumer, one task in flight
    assert "No worker consumes this function" in cells[6]


def test_a_failed_execution_is_redriven_from_its_page(console: str, page: Any) -> None:
    arn = start_execution(console, "FailsOnce", {"n": 1})
    assert finished(console, arn)["status"] == "FAILED"
    open_execution(page, console, arn)
    assert state(page, "Pick").get_attribute("data-status") == "FAILED"
    page.evaluate("window.__notReloaded = true")
    page.click("#redrive")
    page.wait_for_selector('h1 .badge[data-status="SUCCEEDED"]')
    assert state(page, "Pick").get_attribute("data-status") == "SUCCEEDED"
    assert state(page, "Prepare").get_attribute("data-status") == "SUCCEEDED"
    assert page.locator("#error-banner").count() == 0
    assert page.locator("#redrive").count() == 0  # redriven to success: nothing to redrive
    assert page.evaluate("window.__notReloaded") is True


def test_a_distributed_map_shows_its_map_run_and_children(console: str, page: Any) -> None:
    arn = start_execution(console, "DistributedItems", ["a", "b", "c"])
    assert finished(console, arn)["status"] == "SUCCEEDED"
    open_execution(page, console, arn)
    run = page.locator("#map-runs li[data-status=SUCCEEDED]")
    run.wait_for()
    assert "3 succeeded" in run.inner_text() and "of 3" in run.inner_text()
    run.locator("a.map-run-children").click()
    page.wait_for_selector("#map-run-children-title")
    rows = page.locator("#executions tbody tr")
    assert rows.count() == 3
    child = rows.first.get_attribute("data-execution")
    rows.first.locator("a").click()
    page.wait_for_selector("#map-run-parent")
    assert page.locator("h1").first.inner_text().startswith(str(child))
    page.locator("#map-run-parent").click()
    page.wait_for_selector("#map-runs")
    assert urllib.parse.unquote(page.url).endswith(arn)
