"""The command line: the service (the default), ``run`` one execution in-process, ``validate``.

Exit codes: 0 success; 1 an execution that did not succeed; 2 an invalid definition, input
or option.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from broker import amqp_url
from broker.service_loop import run_service_loop
from messages import TaskCallbackFailure, TaskCallbackHeartbeat, TaskCallbackSuccess
from orchestrator import admin, client
from orchestrator.api.sigv4 import Credentials
from orchestrator.arns import Account
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.loader import load_definition_file
from orchestrator.definitions import load_definitions
from orchestrator.local_runner import run_local
from orchestrator.service import ServiceConfig, run_service
from orchestrator.supervisor import run_stack
from workers.runtime import Function, registered_functions

INVALID = 2
app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    help="A self-hosted AWS Step Functions engine: ASL executions, Tasks run by workers over RabbitMQ.",
)


def main() -> None:
    """Entry point of ``python -m orchestrator``."""
    admin.register(app)
    app(prog_name="python -m orchestrator")


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    definitions: Annotated[
        Path,
        typer.Option(
            help="Folder of *.asl.json definitions; each file's stem names its state machine."
        ),
    ] = Path("definitions"),
    amqp: Annotated[
        str | None, typer.Option("--amqp-url", help="RabbitMQ URL (default: $AMQP_URL or local).")
    ] = None,
    db: Annotated[
        Path | None, typer.Option(help="SQLite execution store (default: $SFN_DB or ./sfn.db).")
    ] = None,
    prefetch: Annotated[int, typer.Option(min=1, help="Unacked messages per consumer.")] = 100,
    api_host: Annotated[
        str, typer.Option(help="Where the AWS API listens (loopback unless told otherwise).")
    ] = "127.0.0.1",
    api_port: Annotated[int, typer.Option(help="The AWS API's port (0: no API server).")] = 8083,
) -> None:
    """Run the orchestrator service (when no command is given).

    With SFN_ACCESS_KEY_ID and SFN_SECRET_ACCESS_KEY set, every API request must be signed
    (SigV4) with them; otherwise any credentials are accepted, as Step Functions Local does.
    """
    if ctx.invoked_subcommand is not None:
        return
    _configure_logging()
    try:
        machines = load_definitions(definitions)
    except DefinitionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(INVALID) from None
    config = ServiceConfig(
        machines=machines,
        amqp_url=amqp or amqp_url(),
        db_path=db or Path(os.environ.get("SFN_DB") or "sfn.db"),
        prefetch=prefetch,
        account=Account.from_env(),
        api_host=api_host,
        api_port=api_port or None,
        credentials=_credentials(),
    )
    run_service_loop(_serve_until_signalled(config))


def _credentials() -> Credentials | None:
    key, secret = os.environ.get("SFN_ACCESS_KEY_ID"), os.environ.get("SFN_SECRET_ACCESS_KEY")
    if bool(key) != bool(secret):
        _invalid("set both SFN_ACCESS_KEY_ID and SFN_SECRET_ACCESS_KEY, or neither")
    return Credentials(key, secret) if key and secret else None


async def _serve_until_signalled(config: ServiceConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_service(config, stop)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="The definition (ASL JSON) to run.")],
    input_text: Annotated[
        str,
        typer.Option(
            "--input", help="Execution input: JSON text, or @FILE to read it from a file."
        ),
    ] = "{}",
    handler: Annotated[
        list[str] | None,
        typer.Option(help="NAME=module:function to serve function NAME (repeatable)."),
    ] = None,
    name: Annotated[str, typer.Option(help="Execution name.")] = "local",
    history: Annotated[bool, typer.Option(help="Also print the execution history.")] = False,
) -> None:
    """Run one execution in-process (no broker) and print its result as JSON.

    The five call-center functions are built in; --handler adds or replaces functions.
    """
    try:
        machine = load_definition_file(file)
    except DefinitionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(INVALID) from None
    execution_input = _parse_input(input_text)
    functions = dict(_builtin_functions())
    for spec in handler or []:
        function = _load_handler(spec)
        functions[function.name] = function
    result = run_local(
        machine, execution_input, functions, execution_name=name, account=Account.from_env()
    )
    summary: dict[str, Any] = result.summary()
    if history:
        summary["history"] = [event.to_aws() for event in result.history]
    typer.echo(json.dumps(summary, indent=2, default=str))
    raise typer.Exit(0 if result.state.status == "SUCCEEDED" else 1)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Definitions to check.")],
) -> None:
    """Check definitions; print every problem with its location, exit 2 when there are any."""
    failed = False
    for file in files:
        try:
            load_definition_file(file)
        except DefinitionError as exc:
            failed = True
            typer.echo(str(exc), err=True)
        else:
            typer.echo(f"{file}: valid")
    raise typer.Exit(INVALID if failed else 0)


@app.command()
def submit(
    input_text: Annotated[
        str, typer.Argument(metavar="INPUT", help="Execution input: a JSON object, or @FILE.")
    ],
    state_machine: Annotated[
        str | None, typer.Option(help="State machine name (default: CallCenterStateMachine).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Execution name (default: generated).")] = None,
    amqp: Annotated[
        str | None, typer.Option("--amqp-url", help="RabbitMQ URL (default: $AMQP_URL or local).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")] = 60.0,
) -> None:
    """Publish a case request to the intake queue and print the execution result."""
    execution_input = _parse_input(input_text)
    if not isinstance(execution_input, dict):
        _invalid("INPUT must be a JSON object")
    try:
        result = asyncio.run(
            client.submit(
                execution_input,
                url=amqp or amqp_url(),
                state_machine=state_machine,
                execution_name=name,
                timeout=timeout,
            )
        )
    except TimeoutError:
        typer.echo(f"error: no result within {timeout:g}s", err=True)
        raise typer.Exit(1) from None
    except ConnectionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2))
    raise typer.Exit(0 if result.get("status") == "SUCCEEDED" else 1)


TokenOption = Annotated[str, typer.Option("--task-token", help="The task token ($$.Task.Token).")]
UrlOption = Annotated[
    str | None, typer.Option("--amqp-url", help="RabbitMQ URL (default: $AMQP_URL or local).")
]


@app.command("send-task-success")
def send_task_success(
    task_token: TokenOption,
    output: Annotated[str, typer.Option(help="The task's output: JSON text, or @FILE.")],
    amqp: UrlOption = None,
) -> None:
    """Complete a .waitForTaskToken task with OUTPUT (SendTaskSuccess)."""
    message = TaskCallbackSuccess(task_token=task_token, output=_parse_input(output))
    asyncio.run(client.send_callback(message, url=amqp or amqp_url()))


@app.command("send-task-failure")
def send_task_failure(
    task_token: TokenOption,
    error: Annotated[str | None, typer.Option(help="The error name.")] = None,
    cause: Annotated[str | None, typer.Option(help="The cause.")] = None,
    amqp: UrlOption = None,
) -> None:
    """Fail a .waitForTaskToken task with ERROR and CAUSE (SendTaskFailure)."""
    message = TaskCallbackFailure(task_token=task_token, error=error, cause=cause)
    asyncio.run(client.send_callback(message, url=amqp or amqp_url()))


@app.command("send-task-heartbeat")
def send_task_heartbeat(task_token: TokenOption, amqp: UrlOption = None) -> None:
    """Report that a task is alive: its HeartbeatSeconds start again (SendTaskHeartbeat)."""
    message = TaskCallbackHeartbeat(task_token=task_token)
    asyncio.run(client.send_callback(message, url=amqp or amqp_url()))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def up(ctx: typer.Context) -> None:
    """Run the orchestrator and the five workers as child processes (no Docker needed).

    Extra options go to the orchestrator, e.g. `up --definitions DIR --db FILE`.
    """
    raise typer.Exit(run_stack(ctx.args))


def _builtin_functions() -> dict[str, Function]:
    import workers.callcenter  # noqa: F401  (registers the five call-center functions)

    return dict(registered_functions())


def _parse_input(text: str) -> Any:
    source = "--input"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            _invalid(f"cannot read input file {source}: {exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _invalid(f"{source} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


def _load_handler(spec: str) -> Function:
    name, _, target = spec.partition("=")
    module_name, _, attribute = target.partition(":")
    if not name or not module_name or not attribute:
        _invalid(f"--handler {spec!r}: expected NAME=module:function")
    try:
        module = importlib.import_module(module_name)
        handler = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        _invalid(f"--handler {spec!r}: {exc}")
    if isinstance(handler, Function):
        return dataclasses.replace(handler, name=name)
    try:
        return Function.from_handler(name, handler)
    except TypeError as exc:
        _invalid(f"--handler {spec!r}: {exc}")


def _invalid(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(INVALID)


def _configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
