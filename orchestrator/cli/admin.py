"""Commands for people running the service: executions, describe, history, stop, dead letters.

The read-only views open the SQLite store directly (WAL lets them read while the service
writes). Stopping goes through the service's control queue, so the service stays the only
writer of executions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from broker import CONTROL_QUEUE, INTAKE_QUEUE, TASK_RESULTS_QUEUE, amqp_url, function_queue
from messages import StopExecutionRequest
from orchestrator.asl.definition import TaskState
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.execution import ExecutionState
from orchestrator.asl.loader import load_definition
from orchestrator.cli import client, history_view
from orchestrator.cli.dead_letters import list_dead_letters, republish
from orchestrator.cli.exits import fail, on_broker
from orchestrator.definitions import load_definitions
from orchestrator.engine import execution_result
from orchestrator.store import SqliteStore, StoreError
from orchestrator.store.open import open_store
from orchestrator.store.postgres.store import is_server_url

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="The execution store: a SQLite file or a postgresql:// URL (default: $SFN_DB"
        " or ./sfn.db).",
    ),
]
MachineOption = Annotated[
    str | None, typer.Option("--state-machine", help="The state machine the execution belongs to.")
]
UrlOption = Annotated[
    str | None, typer.Option("--amqp-url", help="RabbitMQ URL (default: $AMQP_URL or local).")
]
ExecutionArgument = Annotated[
    str, typer.Argument(metavar="EXECUTION", help="The execution's name or its ARN.")
]


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


def _store(db: str | None) -> SqliteStore:
    location = db or os.environ.get("SFN_DB") or "sfn.db"
    if not is_server_url(location) and not Path(location).exists():
        fail(f"no execution store at {location} (set --db or SFN_DB)")
    try:
        return open_store(location)
    except StoreError as exc:
        fail(str(exc))


def _find(store: SqliteStore, name: str, state_machine: str | None) -> ExecutionState:
    """The execution ``name`` names: an execution ARN (as ``submit`` prints it), or a name,
    with ``state_machine`` when several state machines have an execution of that name."""
    if name.startswith("arn:"):
        record = store.execution_by_arn(name)
        if record is None:
            fail(f"no execution with ARN {name!r} in {store.path}")
        if state_machine and record.state.state_machine_name != state_machine:
            fail(
                f"{name!r} is an execution of {record.state.state_machine_name}, not {state_machine}"
            )
        return record.state
    found = store.executions(state_machine=state_machine, name=name)
    if not found:
        fail(f"no execution named {name!r}" + (f" of {state_machine}" if state_machine else ""))
    if len(found) > 1:
        machines = ", ".join(sorted(e.state_machine_name for e in found))
        fail(
            f"{name!r} names executions of several state machines ({machines}); add --state-machine"
        )
    return found[0]


def executions(
    status: Annotated[
        str | None, typer.Option(help="RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.")
    ] = None,
    state_machine: MachineOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print ListExecutions' JSON instead of a table.")
    ] = False,
    db: DbOption = None,
) -> None:
    """List executions, newest first, with whole names (the name is the last column)."""
    if status and status.upper() not in {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}:
        fail(f"unknown status {status!r}")
    rows = _store(db).executions(
        status.upper() if status else None, state_machine=state_machine, limit=limit
    )
    if as_json:
        listed = [_listed(state) for state in rows]
        typer.echo(json.dumps({"executions": listed}, indent=2))
        return
    machine_width = max([len("STATE MACHINE"), *(len(s.state_machine_name) for s in rows)])
    typer.echo(
        f"{'STATUS':<9}  {'STARTED (UTC)':<19}  {'DURATION':>8}  "
        f"{'STATE MACHINE':<{machine_width}}  NAME"
    )
    now = datetime.now(UTC)
    for state in rows:
        started = state.start_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        took = history_view.duration(state.start_time, state.stop_time or now)
        typer.echo(
            f"{state.status:<9}  {started:<19}  {took:>8}  "
            f"{state.state_machine_name:<{machine_width}}  {state.execution_name}"
        )
    if not rows:
        typer.echo("(no executions)", err=True)


def _listed(state: ExecutionState) -> dict[str, Any]:
    """An execution as ListExecutions lists it (no output, no stopDate while running)."""
    result: dict[str, Any] = json.loads(execution_result(state).to_wire())
    listed = {key: result[key] for key in ("executionArn", "stateMachineArn", "name", "status")}
    listed["startDate"] = result["startDate"]
    if state.status != "RUNNING":
        listed["stopDate"] = result["stopDate"]
    return listed


def describe(
    name: ExecutionArgument,
    state_machine: MachineOption = None,
    with_input: Annotated[bool, typer.Option(help="Also show the execution's input.")] = False,
    db: DbOption = None,
) -> None:
    """Describe one execution as JSON, in the shape submit and run print.

    ``executionArn``, ``stateMachineArn``, ``name``, ``status``, ``output`` (on success),
    ``error``/``cause`` (when set), ``startDate``, ``stopDate`` (once stopped).
    """
    store = _store(db)
    state = _find(store, name, state_machine)
    described: dict[str, Any] = json.loads(execution_result(state).to_wire())
    if state.status == "RUNNING":
        described.pop("stopDate", None)
    if with_input:
        described["input"] = state.input
    typer.echo(json.dumps(described, indent=2))
    for note in _unserved_tasks(store, state):
        typer.echo(f"note: {note}", err=True)


def _unserved_tasks(store: SqliteStore, state: ExecutionState) -> list[str]:
    """What a running execution waits for that no worker serves (as the service last saw)."""
    unserved = store.unserved() if state.status == "RUNNING" else {}
    record = store.execution_by_arn(state.execution_arn) if unserved else None
    stored = store.definition(record.definition_hash) if record and record.definition_hash else None
    if stored is None:
        return []
    try:
        machine = load_definition(stored[1], name=stored[0])
    except DefinitionError:
        return []
    notes = []
    for thread in state.threads.values():
        if thread.token is None or thread.state is None:
            continue
        task = machine.scopes[thread.scope].states.get(thread.state)
        function = task.function_name if isinstance(task, TaskState) else ""
        if function in unserved:
            since = datetime.fromtimestamp(unserved[function], UTC).isoformat(timespec="seconds")
            notes.append(
                f"state {thread.state!r} waits for function {function}, and no worker has"
                f" consumed its queue {function_queue(function)} since {since}: start one"
                f" (python -m workers {function} --import MODULE) or check the name"
            )
    return notes


def history(
    name: ExecutionArgument,
    state_machine: MachineOption = None,
    with_io: Annotated[
        bool, typer.Option(help="Show each step's input and output under it.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print AWS's JSON events.")] = False,
    db: DbOption = None,
) -> None:
    """Show an execution's history: one row per step (state, type, status, duration,
    attempts; errors below it), or AWS's events with --json."""
    store = _store(db)
    state = _find(store, name, state_machine)
    events = store.history(state.execution_arn)
    if as_json:
        typer.echo(json.dumps({"events": events}, indent=2))
        return
    width = shutil.get_terminal_size((80, 24)).columns
    typer.echo(history_view.render(events, name=state.execution_name, with_io=with_io, width=width))


def stop(
    name: ExecutionArgument,
    state_machine: MachineOption = None,
    error: Annotated[str | None, typer.Option(help="The error to record.")] = None,
    cause: Annotated[str | None, typer.Option(help="The cause to record.")] = None,
    db: DbOption = None,
    amqp: UrlOption = None,
) -> None:
    """Stop (abort) a running execution, through the service."""
    state = _find(_store(db), name, state_machine)
    if state.status != "RUNNING":
        fail(f"execution {name!r} is not running (it is {state.status})")
    request = StopExecutionRequest(execution_arn=state.execution_arn, error=error, cause=cause)
    on_broker(client.send_control(request, url=amqp or amqp_url()))
    typer.echo(f"stop requested for {state.execution_arn}")


def _queues(definitions: Path, queue: str | None) -> list[str]:
    if queue:
        return [queue]
    names = [INTAKE_QUEUE, TASK_RESULTS_QUEUE, CONTROL_QUEUE]
    # Without valid definitions the service's own queues are still worth listing.
    with contextlib.suppress(DefinitionError):
        from orchestrator.service.loop import (
            function_names,  # only here: it loads the whole service
        )

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
    letters = on_broker(list_dead_letters(amqp or amqp_url(), _queues(definitions, queue)))
    for letter in letters:
        body = letter.body[:200].decode("utf-8", "replace")
        typer.echo(f"{letter.queue}: {letter.reason}\n  body: {body}")
    typer.echo(f"{len(letters)} dead letter(s)")


def dead_letters_republish(
    queue: Annotated[str, typer.Option(help="The work queue whose dead letters go back to it.")],
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    amqp: UrlOption = None,
) -> None:
    """Publish a queue's dead letters to the queue again (after fixing what was wrong).

    Only the letters there when it starts move; one that is dead-lettered again meanwhile
    stays for the next run.
    """
    done = on_broker(republish(amqp or amqp_url(), queue, limit))
    left = done.present - done.moved
    typer.echo(
        f"republished {done.moved} message(s) to {queue}"
        + (f"; {left} of the {done.present} present stay dead-lettered" if left else "")
    )
