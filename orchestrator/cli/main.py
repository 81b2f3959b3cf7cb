"""The command line: the service (the default), ``run`` one execution in-process, ``validate``,
``submit`` and the task-token callbacks; the operators' commands are in ``admin``.

Exit codes (``orchestrator.exits``): 0 success; 1 an execution that did not succeed; 2 an
invalid definition, input or option, or a request the service refused; 3 no answer within
``--timeout``; 4 RabbitMQ not reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import json
import logging
import math
import os
import signal
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from broker import amqp_url
from broker.connection import BrokerUnreachable
from broker.log_config import configure_logging, log_level
from broker.service_loop import run_service_loop
from messages import TaskCallbackFailure, TaskCallbackHeartbeat, TaskCallbackSuccess, limits
from messages.executions import DEFAULT_STATE_MACHINE
from orchestrator.arns import Account
from orchestrator.asl.errors import DefinitionError, Problem
from orchestrator.asl.loader import load_definition_file
from orchestrator.cli import admin, client, exits
from orchestrator.cli.exits import INVALID, NO_ANSWER, NOT_SUCCEEDED, SUCCEEDED, fail, on_broker
from orchestrator.cli.supervisor import run_stack
from orchestrator.definitions import load_definitions
from orchestrator.engine import execution_result
from orchestrator.local_runner import run_local
from orchestrator.store import StoreError
from workers.runtime import Function, registered_functions

if TYPE_CHECKING:  # the service (and the AWS API with botocore) loads only to serve
    from orchestrator.api.sigv4 import Credentials
    from orchestrator.service.loop import ServiceConfig

log = logging.getLogger("orchestrator")
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
        str | None,
        typer.Option(
            help="The execution store: a SQLite file, or a postgresql:// URL that several"
            " orchestrators share (default: $SFN_DB or ./sfn.db)."
        ),
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
    from orchestrator.service.loop import ServiceConfig

    config = ServiceConfig(
        machines=machines,
        amqp_url=amqp or amqp_url(),
        db_path=db or os.environ.get("SFN_DB") or "sfn.db",
        prefetch=prefetch,
        account=Account.from_env(),
        api_host=api_host,
        api_port=api_port or None,
        credentials=_credentials(),
        **_service_settings(),
    )
    try:
        run_service_loop(_serve_until_signalled(config))
    except BrokerUnreachable as exc:  # a refused login or virtual host: retrying cannot help
        fail(str(exc), exits.NO_BROKER)
    except StoreError as exc:  # the store file cannot be used: one line naming it
        fail(str(exc), exits.INVALID)


def _service_settings() -> dict[str, Any]:
    """The service's settings from the environment; a bad value exits 2 saying which."""
    missing = (os.environ.get("SFN_MISSING_FUNCTION") or "wait").lower()
    if missing not in ("wait", "fail"):
        fail(f"SFN_MISSING_FUNCTION must be 'wait' or 'fail', not {missing!r}")
    grace = _env_number("SFN_MISSING_FUNCTION_SECONDS", 10, 0, 86_400, "seconds")
    from orchestrator.api.activities import poll_seconds_from_env

    try:
        poll_seconds_from_env()  # the API reads it; a bad value stops the start here
    except ValueError as exc:
        fail(str(exc))
    events = (os.environ.get("SFN_STATUS_EVENTS") or "on").lower()
    if events not in ("on", "off"):
        fail(f"SFN_STATUS_EVENTS must be 'on' or 'off', not {events!r}")
    # A .sync job's first poll (then half as long again each time, up to a minute).
    job_poll = _env_number("SFN_JOB_POLL_SECONDS", 5, 0.05, 3600, "seconds")
    return {
        "job_poll_seconds": job_poll,
        "status_events": events == "on",
        "time_scale": _time_scale(),
        "missing_function": missing,
        "missing_function_grace": grace,
        "metrics_token": os.environ.get("SFN_METRICS_TOKEN") or None,
        "guard_path": Path(os.environ["SFN_GUARD_FILE"])
        if os.environ.get("SFN_GUARD_FILE")
        else None,
        "console_token": os.environ.get("SFN_CONSOLE_TOKEN") or None,
        "metrics_public": os.environ.get("SFN_METRICS_PUBLIC", "").lower() in ("1", "true", "yes"),
        **_integration_settings(),
    }


def _time_scale() -> float:
    """WAIT_TIME_SCALE (Step Functions Local's name): waits, backoffs and timeouts last this
    times their seconds; exits 2 on a value that is not a factor from 0 to 1000."""
    return _env_number("WAIT_TIME_SCALE", 1, 0, 1000, "a factor")


def _env_number(name: str, default: float, low: float, high: float, what: str) -> float:
    """The number in environment variable ``name`` (``default`` when unset); exits 2 saying
    what it must be when it is not a number from ``low`` to ``high``."""
    text = os.environ.get(name) or str(default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # NaN fails too
        fail(f"{name} must be {what} from {low:g} to {high:g}, not {text!r}")
    return value


def _integration_settings() -> dict[str, Any]:
    """The routing table (SFN_INTEGRATIONS) and mock configuration (SFN_MOCK_CONFIG), read
    and checked; a refused file exits 2 with every problem listed."""
    from orchestrator.integrations.mock_config import MockConfig, MockConfigError
    from orchestrator.integrations.mock_target import MockTarget
    from orchestrator.integrations.routing import Routing, RoutingError

    settings: dict[str, Any] = {}
    try:
        if path := os.environ.get("SFN_INTEGRATIONS"):
            settings["routing"] = Routing.load(path)
        if path := os.environ.get("SFN_MOCK_CONFIG"):
            settings["mock"] = MockTarget(MockConfig.load(path))
    except (RoutingError, MockConfigError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}")
    return settings


def _credentials() -> Credentials | None:
    from orchestrator.api.sigv4 import Credentials

    key, secret = os.environ.get("SFN_ACCESS_KEY_ID"), os.environ.get("SFN_SECRET_ACCESS_KEY")
    if bool(key) != bool(secret):
        fail("set both SFN_ACCESS_KEY_ID and SFN_SECRET_ACCESS_KEY, or neither")
    return Credentials(key, secret) if key and secret else None


async def _serve_until_signalled(config: ServiceConfig) -> None:
    """Serve until SIGTERM or SIGINT; a signal that comes while RabbitMQ is still out of
    reach (the service waits for it without end) stops the waiting at once."""
    from orchestrator.service.loop import run_service

    stop, ready = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    serving = asyncio.create_task(run_service(config, stop, ready))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not serving.done() and not ready.is_set():
        # Nothing was consumed or committed yet: no work to finish before exiting.
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        log.info("orchestrator stopped before it was connected to RabbitMQ")
        return
    await serving


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
    test_case: Annotated[
        str | None,
        typer.Option(help="Run this test case of the mock configuration ($SFN_MOCK_CONFIG)."),
    ] = None,
) -> None:
    """Run one execution in-process (no broker) and print its result as JSON.

    The five call-center functions are built in; --handler adds or replaces functions.
    Service integrations go where SFN_INTEGRATIONS routes them (by default an AWS-compatible
    endpoint: AWS_ENDPOINT_URL...); with --test-case, SFN_MOCK_CONFIG answers its states.
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
    from orchestrator.integrations.targets import Targets

    settings = _integration_settings()
    mock = settings.get("mock")
    if test_case is not None and (
        mock is None or mock.config.test_case(machine.name, test_case) is None
    ):
        where = mock.config.source if mock is not None else "no SFN_MOCK_CONFIG"
        fail(f"no test case {test_case!r} for state machine {machine.name!r} ({where})")
    targets = Targets(settings.get("routing"), mock)
    result = run_local(
        machine,
        execution_input,
        functions,
        execution_name=name,
        account=Account.from_env(),
        caller=targets.call,
        test_case=test_case,
        time_scale=_time_scale(),
    )
    summary: dict[str, Any] = json.loads(execution_result(result.state).to_wire())
    if history:
        summary["history"] = [event.to_aws() for event in result.history]
    typer.echo(json.dumps(summary, indent=2, default=str))
    raise typer.Exit(SUCCEEDED if result.state.status == "SUCCEEDED" else NOT_SUCCEEDED)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Definitions to check.")],
) -> None:
    """Check definitions; print every problem with its location, exit 2 when there are any."""
    from orchestrator.integrations.dispatch import describe_routes
    from orchestrator.integrations.routing import Routing

    failed = False
    routing = _integration_settings().get("routing") or Routing()
    for file in files:
        try:
            machine = load_definition_file(file)
        except DefinitionError as exc:
            failed = True
            typer.echo(str(exc), err=True)
        else:
            typer.echo(f"{file}: valid")
            for warning in _variable_warnings(machine.source):
                typer.echo(f"  warning: {warning.describe(str(file))}")
            for line in describe_routes(machine, routing):
                typer.echo(f"  {line}")
    raise typer.Exit(INVALID if failed else 0)


def _variable_warnings(text: str) -> list[Problem]:
    """Each variable the definition reads before any state can have assigned it, located."""
    from orchestrator.asl.loader import locate_problems, parse_definition
    from orchestrator.asl.variable_check import unassigned_reads

    document, _ = parse_definition(text)
    return locate_problems(unassigned_reads(document), text)


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
    """Publish a case request to the intake queue and print the execution result.

    Exits 0 when the execution succeeded, 1 when it ended otherwise, 2 when the service
    refused the start (e.g. StateMachineDoesNotExist, ExecutionAlreadyExists), 3 when no
    result came within --timeout (it prints the execution's name and ARN), 4 when RabbitMQ
    is not reachable.
    """
    execution_input = _parse_input(input_text, "INPUT")
    if not isinstance(execution_input, dict):
        fail("INPUT must be a JSON object")
    # Named here, not by the service, so that a timeout can still say which execution it was.
    name = name or str(uuid.uuid4())
    machine = state_machine or DEFAULT_STATE_MACHINE
    try:
        result = on_broker(
            client.submit(
                execution_input,
                url=amqp or amqp_url(),
                state_machine=state_machine,
                execution_name=name,
                timeout=timeout,
            )
        )
    except client.StartRefusedError as exc:
        refused = exc.refused
        typer.echo(_aws_error(refused.error, "StartExecution", refused.cause), err=True)
        if refused.execution_arn:
            typer.echo(f"The existing execution: {refused.execution_arn}", err=True)
        raise typer.Exit(INVALID) from None
    except TimeoutError:
        arn = Account.from_env().execution_arn(machine, name)
        typer.echo(
            f"error: no result within {timeout:g}s; the execution may still be running.\n"
            f"  name:         {name}\n"
            f"  executionArn: {arn}\n"
            f"Look it up later with: python -m orchestrator describe {name}"
            + ("" if machine == DEFAULT_STATE_MACHINE else f" --state-machine {machine}"),
            err=True,
        )
        raise typer.Exit(NO_ANSWER) from None
    typer.echo(json.dumps(result, indent=2))
    raise typer.Exit(SUCCEEDED if result.get("status") == "SUCCEEDED" else NOT_SUCCEEDED)


TokenOption = Annotated[str, typer.Option("--task-token", help="The task token ($$.Task.Token).")]
UrlOption = Annotated[
    str | None, typer.Option("--amqp-url", help="RabbitMQ URL (default: $AMQP_URL or local).")
]
AnswerTimeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the orchestrator's answer.")
]


@app.command("send-task-success")
def send_task_success(
    task_token: TokenOption,
    output: Annotated[str, typer.Option(help="The task's output: JSON text, or @FILE.")],
    amqp: UrlOption = None,
    timeout: AnswerTimeout = 30.0,
) -> None:
    """Complete a .waitForTaskToken task with OUTPUT (SendTaskSuccess).

    Like the AWS CLI it prints nothing when the task took it, and the AWS error (exit 2)
    when it did not, e.g. TaskDoesNotExist for an unknown or already used token.
    """
    message = TaskCallbackSuccess(task_token=task_token, output=_parse_input(output, "--output"))
    _call_back(message, "SendTaskSuccess", amqp, timeout)


@app.command("send-task-failure")
def send_task_failure(
    task_token: TokenOption,
    error: Annotated[str | None, typer.Option(help="The error name.")] = None,
    cause: Annotated[str | None, typer.Option(help="The cause.")] = None,
    amqp: UrlOption = None,
    timeout: AnswerTimeout = 30.0,
) -> None:
    """Fail a .waitForTaskToken task with ERROR and CAUSE (SendTaskFailure); output as for
    send-task-success."""
    message = TaskCallbackFailure(task_token=task_token, error=error, cause=cause)
    _call_back(message, "SendTaskFailure", amqp, timeout)


@app.command("send-task-heartbeat")
def send_task_heartbeat(
    task_token: TokenOption, amqp: UrlOption = None, timeout: AnswerTimeout = 30.0
) -> None:
    """Report that a task is alive: its HeartbeatSeconds start again (SendTaskHeartbeat);
    output as for send-task-success."""
    message = TaskCallbackHeartbeat(task_token=task_token)
    _call_back(message, "SendTaskHeartbeat", amqp, timeout)


def _call_back(message: client.Callback, operation: str, amqp: str | None, timeout: float) -> None:
    """Send a callback and report the orchestrator's answer as the AWS CLI would."""
    try:
        outcome = on_broker(client.send_callback(message, url=amqp or amqp_url(), timeout=timeout))
    except TimeoutError:
        fail(
            f"no answer from the orchestrator within {timeout:g}s (is it running?); the"
            " callback stays queued on orchestrator.task-results and applies when it is taken",
            NO_ANSWER,
        )
    if outcome.status != "ACCEPTED":
        error = outcome.error or "TaskDoesNotExist"
        typer.echo(_aws_error(error, operation, outcome.cause or ""), err=True)
        raise typer.Exit(INVALID)


def _aws_error(error: str, operation: str, cause: str) -> str:
    """An error as the AWS CLI prints it."""
    return f"An error occurred ({error}) when calling the {operation} operation: {cause}"


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def up(ctx: typer.Context) -> None:
    """Run the orchestrator and the five workers as child processes (no Docker needed).

    Extra options go to the orchestrator, e.g. `up --definitions DIR --db FILE`.
    """
    raise typer.Exit(run_stack(ctx.args))


def _builtin_functions() -> dict[str, Function]:
    import workers.callcenter  # noqa: F401  (registers the five call-center functions)

    return dict(registered_functions())


def _parse_input(text: str, option: str = "--input") -> Any:
    """JSON from ``text``, or from the file ``@FILE`` names; exit 2 saying what is wrong."""
    source = option
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read input file {source}: {exc}")
    try:
        return limits.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{source} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except ValueError as exc:  # too deep, NaN, Infinity, a number too large
        fail(f"{source} is not valid JSON here: {exc}")


def _load_handler(spec: str) -> Function:
    name, _, target = spec.partition("=")
    module_name, _, attribute = target.partition(":")
    if not name or not module_name or not attribute:
        fail(f"--handler {spec!r}: expected NAME=module:function")
    try:
        module = importlib.import_module(module_name)
        handler = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        fail(f"--handler {spec!r}: {exc}")
    if isinstance(handler, Function):
        return dataclasses.replace(handler, name=name)
    try:
        return Function.from_handler(name, handler)
    except TypeError as exc:
        fail(f"--handler {spec!r}: {exc}")


def _configure_logging() -> None:
    try:
        configure_logging(log_level())
    except ValueError as exc:
        fail(str(exc))
