"""Commands for people running the service: executions, describe, history, stop, dead letters.

The read-only views open the SQLite store directly (WAL lets them read while the service
writes). Stopping goes through the service's control queue, so the service stays the only
writer of executions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from broker import CONTROL_QUEUE, INTAKE_QUEUE, TASK_RESULTS_QUEUE, amqp_url, function_queue
from messages import StopExecutionRequest
from orchestrator import client
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.execution import ExecutionState
from orchestrator.dead_letters import list_dead_letters, republish
from orchestrator.definitions import load_definitions
from orchestrator.engine import execution_result
from orchestrator.service import function_names
from orchestrator.store import SqliteStore

DbOption = Annotated[
    Path | None, typer.Option("--db", help="The execution store (default: $SFN_DB or ./sfn.db).")
]
MachineOption = Annotated[
    str | None, typer.Option("--state-machine", help="The state machine the execution belongs to.")
]
UrlOption = Annotated[
    str | None, typer.Option("--amqp-url", help="RabbitMQ URL (default: $AMQP_URL or local).")
]
console = Console()


def register(app: typer.Typer) -> None:
    """Add the commands of this module to the CLI."""
    app.command("executions")(executions)
    app.command("describe")(describe)
    app.command("history")(history)
    app.command("stop")(stop)
    dead = typer.Typer(help="List dead letters, or publish them to their queue again.")
    dead.command("list")(dead_letters_list)
    dead.command("republish")(dead_letters_republish)
    app.add_typer(dead, name="dead-letters")


def _store(db: Path | None) -> SqliteStore:
    path = db or Path(os.environ.get("SFN_DB") or "sfn.db")
    if not path.exists():
        _fail(f"no execution store at {path} (set --db or SFN_DB)")
    return SqliteStore(path)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _find(store: SqliteStore, name: str, state_machine: str | None) -> ExecutionState:
    found = store.executions(state_machine=state_machine, name=name)
    if not found:
        _fail(f"no execution named {name!r}" + (f" of {state_machine}" if state_machine else ""))
    if len(found) > 1:
        machines = ", ".join(sorted(e.state_machine_name for e in found))
        _fail(
            f"{name!r} names executions of several state machines ({machines}); add --state-machine"
        )
    return found[0]


def executions(
    status: Annotated[
        str | None, typer.Option(help="RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.")
    ] = None,
    state_machine: MachineOption = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    db: DbOption = None,
) -> None:
    """List executions, newest first."""
    if status and status.upper() not in {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}:
        _fail(f"unknown status {status!r}")
    rows = _store(db).executions(
        status.upper() if status else None, state_machine=state_machine, limit=limit
    )
    table = Table("name", "state machine", "status", "started", "stopped")
    for state in rows:
        stopped = state.stop_time.isoformat(timespec="seconds") if state.stop_time else ""
        table.add_row(
            state.execution_name,
            state.state_machine_name,
            state.status,
            state.start_time.isoformat(timespec="seconds"),
            stopped,
        )
    console.print(table)


def describe(
    name: Annotated[str, typer.Argument(help="The execution name.")],
    state_machine: MachineOption = None,
    db: DbOption = None,
) -> None:
    """Describe one execution as DescribeExecution does (JSON)."""
    state = _find(_store(db), name, state_machine)
    described: dict[str, Any] = json.loads(execution_result(state).to_wire())
    described["input"] = state.input
    if state.status == "RUNNING":
        described.pop("stopDate", None)
        described.pop("output", None)
    typer.echo(json.dumps(described, indent=2))


def history(
    name: Annotated[str, typer.Argument(help="The execution name.")],
    state_machine: MachineOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print AWS's JSON events.")] = False,
    db: DbOption = None,
) -> None:
    """Show an execution's history: a readable table, or AWS's events with --json."""
    store = _store(db)
    state = _find(store, name, state_machine)
    events = store.history(state.execution_arn)
    if as_json:
        typer.echo(json.dumps({"events": events}, indent=2))
        return
    table = Table("id", "type", "step", "time", "details")
    for event in events:
        details: dict[str, Any] = next(
            (v for k, v in event.items() if k.endswith("EventDetails")), {}
        )
        step = details.get("name", "") if isinstance(details, dict) else ""
        shown = {
            k: v
            for k, v in (details or {}).items()
            if k not in {"name", "inputDetails", "outputDetails"}
        }
        table.add_row(
            str(event["id"]),
            event["type"],
            step,
            str(event["timestamp"])[11:23],
            json.dumps(shown, ensure_ascii=False)[:120] if shown else "",
        )
    console.print(table)


def stop(
    name: Annotated[str, typer.Argument(help="The execution name.")],
    state_machine: MachineOption = None,
    error: Annotated[str | None, typer.Option(help="The error to record.")] = None,
    cause: Annotated[str | None, typer.Option(help="The cause to record.")] = None,
    db: DbOption = None,
    amqp: UrlOption = None,
) -> None:
    """Stop (abort) a running execution, through the service."""
    state = _find(_store(db), name, state_machine)
    if state.status != "RUNNING":
        _fail(f"execution {name!r} is not running (it is {state.status})")
    request = StopExecutionRequest(execution_arn=state.execution_arn, error=error, cause=cause)
    asyncio.run(client.send_control(request, url=amqp or amqp_url()))
    typer.echo(f"stop requested for {state.execution_arn}")


def _queues(definitions: Path, queue: str | None) -> list[str]:
    if queue:
        return [queue]
    names = [INTAKE_QUEUE, TASK_RESULTS_QUEUE, CONTROL_QUEUE]
    # Without valid definitions the service's own queues are still worth listing.
    with contextlib.suppress(DefinitionError):
        names += [function_queue(f) for f in sorted(function_names(load_definitions(definitions)))]
    return names


def dead_letters_list(
    queue: Annotated[str | None, typer.Option(help="Only this work queue's dead letters.")] = None,
    definitions: Annotated[
        Path, typer.Option(help="Definitions folder, to know the function queues.")
    ] = Path("definitions"),
    amqp: UrlOption = None,
) -> None:
    """List dead letters with their reasons; they stay where they are."""
    letters = asyncio.run(list_dead_letters(amqp or amqp_url(), _queues(definitions, queue)))
    table = Table("queue", "reason", "body")
    for letter in letters:
        table.add_row(letter.queue, letter.reason, letter.body[:80].decode("utf-8", "replace"))
    console.print(table)
    typer.echo(f"{len(letters)} dead letter(s)")


def dead_letters_republish(
    queue: Annotated[str, typer.Option(help="The work queue whose dead letters go back to it.")],
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    amqp: UrlOption = None,
) -> None:
    """Publish a queue's dead letters to the queue again (after fixing what was wrong)."""
    moved = asyncio.run(republish(amqp or amqp_url(), queue, limit))
    typer.echo(f"republished {moved} message(s) to {queue}")
