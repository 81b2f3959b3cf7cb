"""The Step Functions API actions, over the engine and the store.

Requests are validated against botocore's own model of the service (the shapes boto3 and
the AWS CLI build their calls from) with AWS's answers (:mod:`orchestrator.api.validation`),
and answers use its field names; errors are AWS's error types. Each action is one method;
``call`` routes an ``X-Amz-Target`` action name to it.

Creating, updating and deleting state machines take one lock: each checks what exists and
changes it with no other change in between, so of concurrent creates with one name exactly
one succeeds. ARNs of another partition, region or account name nothing here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any, Literal, TypeVar

import botocore.session

import messages
from messages import limits
from orchestrator.api.errors import ApiError
from orchestrator.api.pagination import PageTokens
from orchestrator.api.test_state import test_state as run_test_state
from orchestrator.api.validation import validate
from orchestrator.arns import Account, StatesArn, parse_states_arn
from orchestrator.asl.definition import StateMachine, TaskState
from orchestrator.asl.diagnostics import aws_diagnostics
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.execution import ExecutionState
from orchestrator.asl.interpreter import redrivable
from orchestrator.asl.loader import load_definition
from orchestrator.engine import Engine, StartRejected
from orchestrator.integrations.mock_config import split_test_case
from orchestrator.service.publisher import OutboxPublisher
from orchestrator.store import ExecutionBusy, ExecutionSummary
from orchestrator.store.express.routed import at_most_once, release_express_name

__all__ = ["ACTIONS", "SYNC_TIMEOUT_SECONDS", "ApiError", "StepFunctionsApi"]

log = logging.getLogger(__name__)
_MODEL = botocore.session.get_session().get_service_model("stepfunctions")
_VALID_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")
_TOKEN = re.compile(r"^[0-9a-f]{32}\.\d+$")
_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
SYNC_TIMEOUT_SECONDS = 300.0
# A call finding its execution stepped by another replica tries again, this often and long.
BUSY_RETRIES = 50
BUSY_RETRY_SECONDS = 0.02
MAX_TAGS = 50  # AWS's limit of tags per resource

Params = dict[str, Any]
T = TypeVar("T")
Handler = Callable[[Params], Awaitable[Params]]
MachineType = Literal["STANDARD", "EXPRESS"]
# The actions of AWSStepFunctions served here, each by the method of its snake_case name.
ACTIONS = (
    "CreateStateMachine",
    "DescribeStateMachine",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "ListStateMachines",
    "ValidateStateMachineDefinition",
    "DescribeStateMachineForExecution",
    "StartExecution",
    "StartSyncExecution",
    "StopExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TestState",
    "RedriveExecution",
)
# AWS redrives an execution at most this many times, within 14 days of its end.
MAX_REDRIVES = 1000
REDRIVE_WINDOW_SECONDS = 14 * 24 * 3600


def _listed(summary: ExecutionSummary, extra: dict[str, str]) -> Params:
    """An execution as ListExecutions lists it, with ``extra`` fields (qualifier ARNs, or the
    Map Run's)."""
    listed = {
        "executionArn": summary.execution_arn,
        "stateMachineArn": summary.state_machine_arn,
        "name": summary.name,
        "status": summary.status,
        "startDate": _epoch(summary.start_time),
        "stopDate": _epoch(summary.stop_time),
        **extra,
    }
    return {key: value for key, value in listed.items() if value is not None}


def _redriven(params: Params) -> bool | None:
    """ListExecutions' redriveFilter: REDRIVEN, NOT_REDRIVEN, or None for both."""
    found = params.get("redriveFilter")
    return None if found is None else found == "REDRIVEN"


def _filters(params: Params) -> Params:
    return {"status": params.get("statusFilter"), "redrive": params.get("redriveFilter")}


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _payload(text: str, error: str, prefix: str) -> Any:
    """Parse an input or output: AWS's ``error`` when too large, not JSON, or too deep."""
    size = len(text.encode())
    if size > limits.MAX_PAYLOAD_BYTES:
        raise ApiError(
            error, f"{prefix}: 'it is {size} bytes, over {limits.MAX_PAYLOAD_BYTES} bytes'"
        )
    try:
        return limits.loads(text)
    except ValueError as exc:  # JsonTooDeep is one
        raise ApiError(error, f"{prefix}: '{exc}'") from None


class StepFunctionsApi:
    """The actions of AWSStepFunctions that this engine serves.

    ``prepare`` declares the queues a new definition's Tasks need; ``page_tokens`` signs
    pagination tokens (a key drawn for the process by default); ``sync_timeout`` bounds how
    long StartSyncExecution waits.
    """

    def __init__(
        self,
        engine: Engine,
        publisher: OutboxPublisher,
        *,
        account: Account,
        prepare: Callable[[StateMachine], Awaitable[None]] | None = None,
        page_tokens: PageTokens | None = None,
        sync_timeout: float = SYNC_TIMEOUT_SECONDS,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.publisher = publisher
        self.account = account
        self.prepare = prepare
        self.pages = page_tokens or PageTokens()
        self.sync_timeout = sync_timeout
        self._changing = asyncio.Lock()  # create, update and delete, one at a time
        self._loading = asyncio.Semaphore(1)  # definitions compiled in a thread, one at a time
        self.handlers: dict[str, Handler] = {name: getattr(self, _snake(name)) for name in ACTIONS}
        from orchestrator.api.activities import Activities  # it imports this module

        self.activities = Activities(self)
        self.handlers.update(self.activities.handlers())
        from orchestrator.api.versions import Versions  # it imports this module too

        self.versions = Versions(self)
        self.handlers.update(self.versions.handlers())
        from orchestrator.api.map_runs import MapRuns  # it imports this module too

        self.map_runs = MapRuns(self)
        self.handlers.update(self.map_runs.handlers())

    async def call(self, action: str, params: Params) -> Params:
        """Run ``action`` with ``params``; raises :class:`ApiError`."""
        handler = self.handlers.get(action)
        if handler is None:
            raise ApiError("UnknownOperationException", f"Unknown operation {action}")
        validate(params, _MODEL.operation_model(action).input_shape)
        if self.engine.shared_store:  # another replica's API may have changed them
            self.engine.sync_machines()
        for _ in range(BUSY_RETRIES):
            try:
                return await handler(params)
            except ExecutionBusy:
                # Another replica is stepping the execution (nothing was changed here):
                # its step commits within milliseconds; then this one applies.
                await asyncio.sleep(BUSY_RETRY_SECONDS)
        raise ApiError(
            "ThrottlingException",
            "The execution is being changed by another orchestrator; try again",
        )

    # -- ARNs ----------------------------------------------------------------------------------

    def _names(self, arn: str, resource: str, count: int) -> tuple[str, ...] | None:
        """The names in ``arn``, a ``resource`` ARN; None when it is not one of ours (another
        region or account, or a version qualifier): it names nothing here."""
        parsed = _parsed_arn(arn)
        if parsed.resource != resource:
            raise ApiError(
                "InvalidArn",
                f"Invalid Arn: 'Resource type not valid in this context: {parsed.resource}'",
            )
        if len(parsed.names) < count:
            raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
        if not self.account.owns(parsed) or len(parsed.names) > count:
            return None
        return parsed.names

    def _machine_name(self, arn: str) -> str | None:
        names = self._names(arn, "stateMachine", 1)
        return names[0] if names else None

    def _machine(self, arn: str) -> tuple[str, StateMachine]:
        name = self._machine_name(arn)
        machine = self.engine.machines.get(name) if name else None
        if name is None or machine is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return name, machine

    # -- state machines ------------------------------------------------------------------------

    async def _load(self, text: str, name: str, kind: MachineType) -> StateMachine:
        """Compile a definition off the event loop (one at a time), as a ``kind`` machine."""
        async with self._loading:
            machine = await asyncio.to_thread(self._compile, text, name)
        if kind == "EXPRESS":
            for state in (s for scope in machine.scopes for s in scope.states.values()):
                if isinstance(state, TaskState) and state.wait_for_token:
                    raise ApiError(
                        "InvalidDefinition",
                        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express"
                        " state machine does not support '.waitForTaskToken' service"
                        f" integration  at /States/{state.name}/Resource'",
                    )
        return dataclasses.replace(machine, type=kind)

    def _compile(self, text: str, name: str) -> StateMachine:
        # The loader refuses a definition over 1 MiB or nested too deep, saying where.
        try:
            return load_definition(text, name=name)
        except DefinitionError as exc:
            problems = "; ".join(p.describe() for p in exc.problems)
            raise ApiError(
                "InvalidDefinition", f"Invalid State Machine Definition: '{problems}'"
            ) from None

    def _from_folder(self, name: str, change: str) -> None:
        """Refuse to ``change`` a machine of the definitions folder: a restart would undo it."""
        if name in self.engine.from_folder:
            raise ApiError(
                "ConflictException",
                f"State machine '{name}' is defined by the file {name}.asl.json of the"
                f" definitions folder and cannot be {change} through the API (a restart"
                " would undo it): edit or remove that file and restart the orchestrator",
            )

    async def _prepare(self, machine: StateMachine) -> None:
        if self.prepare is not None:
            await self.prepare(machine)

    async def create_state_machine(self, params: Params) -> Params:
        name: str = params["name"]
        if not _VALID_NAME.match(name):
            raise ApiError("InvalidName", f"Invalid Name: '{name}'")
        _supported_options(params)
        kind: MachineType = params.get("type", "STANDARD")
        text: str = params["definition"]
        tags = _tags(params.get("tags", []))
        machine = await self._load(text, name, kind)
        arn = self.account.state_machine_arn(name)
        if len(tags) > MAX_TAGS:
            raise _too_many_tags(arn, len(tags))
        async with self._changing:
            existing = self.store.state_machine(name)
            if existing is not None and name in self.engine.machines:
                # AWS: idempotent when the definition and type match; the role and tags of
                # a repeated create are ignored.
                if (existing.definition, existing.type) != (text, kind):
                    raise ApiError(
                        "StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'"
                    )
                return {"stateMachineArn": arn, "creationDate": existing.created}
            await self._prepare(machine)
            record = self.store.put_state_machine(name, text, kind, params["roleArn"])
            self.engine.register(machine, record.definition_hash, role_arn=params["roleArn"])
            if tags:
                self.store.set_tags(arn, tags)
            answer: Params = {"stateMachineArn": arn, "creationDate": record.created}
            if params.get("publish"):
                published = self.versions.publish(name, params.get("versionDescription"))
                answer["stateMachineVersionArn"] = published["stateMachineVersionArn"]
        return answer

    async def describe_state_machine(self, params: Params) -> Params:
        arn = params["stateMachineArn"]
        qualified = self.versions.qualified(arn)
        if qualified is not None and qualified[1] is not None:
            if not qualified[1].isdigit():
                raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")  # an alias: see its own
            return self.versions.describe_version(arn)
        name, _ = self._machine(arn)
        record = self.store.state_machine(name)
        if record is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return {
            "stateMachineArn": self.account.state_machine_arn(name),
            "name": name,
            "status": "ACTIVE",
            "definition": record.definition,
            "roleArn": record.role_arn or self.engine.role_arn(name),
            "type": record.type,
            "creationDate": record.created,
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
            "tracingConfiguration": {"enabled": False},
            "revisionId": record.definition_hash,
        }

    async def update_state_machine(self, params: Params) -> Params:
        if not params.keys() & {
            "definition",
            "roleArn",
            "loggingConfiguration",
            "tracingConfiguration",
        }:
            raise ApiError(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the"
                " TracingConfiguration must be specified",
            )
        _supported_options(params)
        arn = params["stateMachineArn"]
        role: str | None = params.get("roleArn")
        async with self._changing:
            name, _ = self._machine(arn)
            self._from_folder(name, "updated")
            record = self.store.state_machine(name)
            if record is None:
                raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
            text: str = params.get("definition", record.definition)
            kind: MachineType = "EXPRESS" if record.type == "EXPRESS" else "STANDARD"
            machine = await self._load(text, name, kind)
            await self._prepare(machine)
            updated = self.store.put_state_machine(name, text, record.type, role)
            self.engine.register(machine, updated.definition_hash, role_arn=role)
            answer: Params = {"updateDate": updated.updated, "revisionId": updated.definition_hash}
            if params.get("publish"):
                published = self.versions.publish(name, params.get("versionDescription"))
                answer["stateMachineVersionArn"] = published["stateMachineVersionArn"]
        return answer

    async def delete_state_machine(self, params: Params) -> Params:
        async with self._changing:
            name = self._machine_name(params["stateMachineArn"])
            if name is None:  # not ours: nothing of that name here (AWS answers 200 too)
                return {}
            self._from_folder(name, "deleted")
            self.engine.unregister(name)
            self.store.delete_state_machine(name)
            self.store.forget_versions(name)
        return {}

    async def list_state_machines(self, params: Params) -> Params:
        records = [r for r in self.store.state_machines() if r.name in self.engine.machines]
        return self.paged(
            records,
            params,
            {"action": "ListStateMachines"},
            "stateMachines",
            lambda r: {
                "stateMachineArn": self.account.state_machine_arn(r.name),
                "name": r.name,
                "type": r.type,
                "creationDate": r.created,
            },
        )

    def paged(
        self,
        records: Sequence[T],
        params: Params,
        query: dict[str, Any],
        key: str,
        shown: Callable[[T], Params],
    ) -> Params:
        """One page of ``records`` as ``{key: [...], "nextToken"?}`` (``query`` binds the
        token to the request that issued it)."""
        page, following = self.pages.page(records, params, query)
        answer: Params = {key: [shown(record) for record in page]}
        if following:
            answer["nextToken"] = following
        return answer

    async def test_state(self, params: Params) -> Params:
        role = params.get("roleArn") or self.account.role_arn("TestState")
        async with self._loading:  # one at a time, off the event loop: it is pure CPU
            return await asyncio.to_thread(run_test_state, params, role)

    async def validate_state_machine_definition(self, params: Params) -> Params:
        async with self._loading:  # a large definition takes seconds of CPU: off the loop
            return await asyncio.to_thread(
                aws_diagnostics,
                params["definition"],
                max_results=params.get("maxResults") or 100,
                machine_type=params.get("type", "STANDARD"),
            )

    async def describe_state_machine_for_execution(self, params: Params) -> Params:
        arn = params["executionArn"]
        state, digest = self._execution(arn)
        name = state.state_machine_name
        stored = self.store.definition(digest) if digest else None
        current = self.engine.machines.get(name)
        if stored is not None:
            definition = stored[1]
        elif current is not None:  # started before definitions were stored by hash
            definition = current.source
        else:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        answer: Params = {
            "stateMachineArn": state.state_machine_arn,
            "name": name,
            "definition": definition,
            "roleArn": state.role_arn or self.engine.role_arn(name),
            "updateDate": _epoch(state.start_time),
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
            "tracingConfiguration": {"enabled": False},
        }
        if state.parent is not None and state.parent.get("pattern") == "map":
            # A Distributed Map's child: the Map Run, and the label in its machine's name.
            answer["mapRunArn"] = state.parent.get("map_run")
            answer["label"] = name.rsplit("/", 1)[-1]
        return answer

    # -- executions ----------------------------------------------------------------------------

    def _execution(self, arn: str) -> tuple[ExecutionState, str | None]:
        names = self._names(arn, "execution", 2)
        record = self.store.execution(names[0], names[1]) if names else None
        if record is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return record.state, record.definition_hash

    async def _publish(self, ids: Iterable[int] | None) -> None:
        """Send what a committed step put in the outbox. It is committed: if the broker
        fails now, the outbox sweeper sends it later, so the call still succeeded."""
        ids = list(ids or [])
        if not ids:
            return
        try:
            await self.publisher.publish(ids)
        except Exception as exc:
            log.warning(
                "publishing %d outbox message(s) failed (%s); the outbox sweeper will send them",
                len(ids),
                exc,
            )

    async def start_execution(self, params: Params, *, sync: bool = False) -> Params:
        # Step Functions Local's convention: "<stateMachineArn>#<TestCase>" runs a mock test case.
        machine_arn, test_case = split_test_case(str(params["stateMachineArn"]))
        if test_case is not None:
            self._check_test_case(machine_arn, test_case)
        qualified = self.versions.qualified(machine_arn)
        pinned = None
        version: int | None = None
        alias: str | None = None
        if qualified is not None and qualified[1] is not None:
            name = qualified[0]
            self._machine(self.account.state_machine_arn(name))  # it exists
            machine, digest, version, alias = self.versions.resolve(name, qualified[1])
            pinned = (machine, digest)
        else:
            name, _ = self._machine(machine_arn)
        execution_input = _payload(
            params.get("input", "{}"),
            "InvalidExecutionInput",
            "Invalid State Machine Execution Input",
        )
        execution_name = params.get("name") or str(uuid.uuid4())
        if not _VALID_NAME.match(execution_name):
            raise ApiError("InvalidName", f"Invalid Name: '{execution_name}'")
        if (pinned[0] if pinned else self.engine.machines[name]).type == "EXPRESS":
            # AWS: StartExecution isn't idempotent for EXPRESS; a name starts a new one.
            release_express_name(self.store, name, execution_name)
        existing = self.store.execution(name, execution_name)
        if existing is not None:
            if existing.state.status != "RUNNING" or existing.state.input != execution_input:
                arn = existing.state.execution_arn
                raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            return {
                "executionArn": existing.state.execution_arn,
                "startDate": _epoch(existing.state.start_time),
            }
        request = messages.IntakeRequest.model_construct(
            state_machine=name,
            execution_name=execution_name,
            input=execution_input,
            reply_to=None,
            correlation_id=None,
            test_case=test_case,
        )
        try:
            # AWS runs a synchronous EXPRESS execution at most once: its start is not
            # recorded to be run again after a crash (see store.routed).
            with at_most_once(self.store) if sync else nullcontext():
                ids = self.engine.start(request, pinned=pinned)
        except StartRejected as exc:
            raise ApiError(exc.error, exc.cause) from None
        if pinned is not None:
            arn = self.account.execution_arn(name, execution_name)
            self.store.set_execution_qualifier(arn, version, alias)
        await self._publish(ids)
        started = self.store.execution(name, execution_name)
        if started is None:  # the engine committed it a moment ago
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{name}'")
        return {
            "executionArn": started.state.execution_arn,
            "startDate": _epoch(started.state.start_time),
        }

    def _check_test_case(self, machine_arn: str, test_case: str) -> None:
        """A test case must exist in the mock configuration the orchestrator was started with."""
        mock = self.engine.mock
        name = machine_arn.rsplit(":", 1)[-1]
        if mock is None:
            raise ApiError(
                "ValidationException",
                f"Test case {test_case!r} needs a mock configuration (SFN_MOCK_CONFIG)",
            )
        if mock.config.test_case(name, test_case) is None:
            raise ApiError(
                "ValidationException",
                f"No test case {test_case!r} for state machine {name!r} in {mock.config.source}",
            )

    async def start_sync_execution(self, params: Params) -> Params:
        _, machine = self._machine(split_test_case(str(params["stateMachineArn"]))[0])
        if machine.type != "EXPRESS":
            raise ApiError(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            )
        started = await self.start_execution(params, sync=True)
        arn = started["executionArn"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.sync_timeout
        while True:
            # Read by ARN from the store: DescribeExecution refuses an EXPRESS one, as AWS.
            record = self.store.execution_by_arn(arn)
            if record is None:
                raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
            state = record.state
            if state.status in _TERMINAL:
                break
            if loop.time() > deadline:
                raise ApiError("ValidationException", "The execution did not finish in time")
            await asyncio.sleep(0.02)
        return _sync_answer(state)

    async def stop_execution(self, params: Params) -> Params:
        state, _ = self._execution(params["executionArn"])
        if state.status == "RUNNING":
            request = messages.StopExecutionRequest(
                execution_arn=state.execution_arn,
                error=params.get("error"),
                cause=params.get("cause"),
            )
            await self._publish(self.engine.stop(request))
            state, _ = self._execution(params["executionArn"])
        return {"stopDate": _epoch(state.stop_time)}

    def _described(self, state: ExecutionState) -> Params:
        answer: Params = {
            "executionArn": state.execution_arn,
            "stateMachineArn": state.state_machine_arn,
            "name": state.execution_name,
            "status": state.status,
            "startDate": _epoch(state.start_time),
            "input": json.dumps(state.input, separators=(",", ":")),
            "inputDetails": {"included": True},
            "redriveCount": state.redrive_count,
            **self._redrive_status(state),
        }
        if state.redrive_time is not None:
            answer["redriveDate"] = _epoch(state.redrive_time)
        if state.stop_time is not None:
            answer["stopDate"] = _epoch(state.stop_time)
        answer.update(_outcome(state))
        qualifier = self.store.execution_qualifier(state.execution_arn)
        answer.update(self._qualifier_arns(state.state_machine_name, qualifier))
        if state.parent is not None and state.parent.get("pattern") == "map":
            answer["mapRunArn"] = state.parent.get("map_run")
        return answer

    def _qualifier_arns(
        self, name: str, qualifier: tuple[int | None, str | None] | None
    ) -> dict[str, str]:
        """stateMachineVersionArn and stateMachineAliasArn of an execution started through
        a version or an alias."""
        found: dict[str, str] = {}
        version, alias = qualifier or (None, None)
        if version is not None:
            found["stateMachineVersionArn"] = self.versions.version_arn(name, version)
        if alias is not None:
            found["stateMachineAliasArn"] = self.versions.alias_arn(name, alias)
        return found

    def _redrive_status(self, state: ExecutionState) -> Params:
        """redriveStatus, and redriveStatusReason when it is not redrivable."""
        reason = self._not_redrivable(state)
        if reason is None:
            return {"redriveStatus": "REDRIVABLE"}
        return {"redriveStatus": "NOT_REDRIVABLE", "redriveStatusReason": reason}

    def _not_redrivable(self, state: ExecutionState) -> str | None:
        machine = self.engine.machines.get(state.state_machine_name)
        if machine is not None and machine.type == "EXPRESS":
            return "Execution is of an EXPRESS state machine"
        reason = redrivable(state)
        if reason is not None:
            return reason
        if state.redrive_count >= MAX_REDRIVES:
            return f"Execution has been redriven the maximum number of times ({MAX_REDRIVES})"
        if (
            state.stop_time is not None
            and (self.engine.clock() - state.stop_time).total_seconds() > REDRIVE_WINDOW_SECONDS
        ):
            return "Execution ended more than 14 days ago"
        return None

    async def redrive_execution(self, params: Params) -> Params:
        arn = params["executionArn"]
        async with self._changing:
            state, _ = self._execution(arn)
            reason = self._not_redrivable(state)
            if reason is not None:
                raise ApiError("ExecutionNotRedrivable", f"Execution is not redrivable: {reason}")
            ids = self.engine.redrive(arn)
            if ids is None:
                raise ApiError("ExecutionNotRedrivable", "Execution is not redrivable")
        await self._publish(ids)
        state, _ = self._execution(arn)
        return {"redriveDate": _epoch(state.redrive_time)}

    async def describe_execution(self, params: Params) -> Params:
        state, _ = self._execution(params["executionArn"])
        return self._described(state)

    def _execution_page(
        self, params: Params, query: Params, **where: str
    ) -> tuple[list[ExecutionSummary], str | None]:
        """A page of ListExecutions read from the store's index (newest first): the token
        carries where the next page starts, so every page costs the same."""
        position, size = self.pages.cursor(params, query)
        cursor = None
        if position is not None:
            started, _, key = position.rpartition("|")
            cursor = (started, int(key))
        page, following = self.store.execution_page(
            status=params.get("statusFilter"),
            redriven=_redriven(params),
            cursor=cursor,
            limit=size,
            **where,  # type: ignore[arg-type]
        )
        token = self.pages.token(f"{following[0]}|{following[1]}", query) if following else None
        return page, token

    def _map_run_executions(self, params: Params) -> Params:
        """ListExecutions of a Map Run: its child executions, each with the Map Run's ARN."""
        found = self.map_runs._run(params["mapRunArn"])
        query = {"action": "ListExecutions", "mapRun": found.arn, **_filters(params)}
        page, following = self._execution_page(params, query, map_run=found.arn)
        answer: Params = {"executions": [_listed(s, {"mapRunArn": found.arn}) for s in page]}
        if following is not None:
            answer["nextToken"] = following
        return answer

    async def list_executions(self, params: Params) -> Params:
        if "mapRunArn" in params:
            if "stateMachineArn" in params:
                raise ApiError(
                    "ValidationException", "Provide either stateMachineArn or mapRunArn, not both"
                )
            return self._map_run_executions(params)
        if "stateMachineArn" not in params:
            raise ApiError("ValidationException", "Provide a stateMachineArn or a mapRunArn")
        arn = params["stateMachineArn"]
        qualified = self.versions.qualified(arn)
        through: set[str] | None = None
        if qualified is not None and qualified[1] is not None:
            qualifier = qualified[1]
            if qualifier.isdigit():
                through = self.store.qualified_executions(qualified[0], int(qualifier), None)
            else:
                through = self.store.qualified_executions(qualified[0], None, qualifier)
            name: str | None = qualified[0]
        else:
            name = self._machine_name(arn)
        if name is None or (
            name not in self.engine.machines and self.store.state_machine(name) is None
        ):
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        machine = self.engine.machines.get(name)
        if machine is not None and machine.type == "EXPRESS":
            # AWS lists no EXPRESS executions (only a Map Run's, through mapRunArn).
            raise ApiError(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            )
        status = params.get("statusFilter")
        redriven = _redriven(params)
        query = {"action": "ListExecutions", "stateMachine": arn, **_filters(params)}
        if through is None:
            page, following = self._execution_page(params, query, state_machine=name)
        else:  # through a version or alias: few, and named by the executions they started
            states = self.store.execution_summaries(status, state_machine=name, redriven=redriven)
            states = [s for s in states if s.execution_arn in through]
            page, following = self.pages.page(states, params, query)
        qualifiers = self.store.execution_qualifiers([s.execution_arn for s in page])
        answer: Params = {
            "executions": [
                _listed(s, self._qualifier_arns(name, qualifiers.get(s.execution_arn)))
                for s in page
            ]
        }
        if following:
            answer["nextToken"] = following
        return answer

    async def get_execution_history(self, params: Params) -> Params:
        state, _ = self._execution(params["executionArn"])
        arn = state.execution_arn
        reverse = bool(params.get("reverseOrder"))
        include = params.get("includeExecutionData", True)
        query = {"action": "GetExecutionHistory", "execution": arn, "reverse": reverse}
        # A page is read from the store's index by event id (the token carries the next id
        # to read), not cut from the whole history: each page costs the same.
        position, size = self.pages.cursor(params, query)
        if position is not None:
            first = int(position)
        else:
            first = self.store.last_event_id(arn) if reverse else 1
        events = self.store.history(arn, first, size + 1, newest_first=reverse)
        page = events[:size]
        answer: Params = {"events": [_history_event(event, include) for event in page]}
        if len(events) > size:
            answer["nextToken"] = self.pages.token(str(events[size]["id"]), query)
        return answer

    # -- task tokens ---------------------------------------------------------------------------

    async def _callback(self, result: messages.AnyTaskResult) -> Params:
        ids = self.engine.apply(result)
        if ids is None:
            if not _TOKEN.match(result.task_token):
                raise ApiError("InvalidToken", "Invalid Token: 'Invalid token'")
            raise ApiError("TaskDoesNotExist", "Task Does Not Exist")
        await self._publish(ids)
        return {}

    async def send_task_success(self, params: Params) -> Params:
        output = _payload(params["output"], "InvalidOutput", "Invalid Output")
        return await self._callback(
            messages.TaskCallbackSuccess(task_token=params["taskToken"], output=output)
        )

    async def send_task_failure(self, params: Params) -> Params:
        failure = messages.TaskCallbackFailure(
            task_token=params["taskToken"], error=params.get("error"), cause=params.get("cause")
        )
        return await self._callback(failure)

    async def send_task_heartbeat(self, params: Params) -> Params:
        return await self._callback(messages.TaskCallbackHeartbeat(task_token=params["taskToken"]))

    # -- tags ----------------------------------------------------------------------------------

    def _tagged(self, arn: str) -> str:
        """``arn``, if it names one of our state machines, executions or activities; else
        AWS's error."""
        parsed = _parsed_arn(arn)
        names = parsed.names
        found = self.account.owns(parsed) and (
            (
                parsed.resource == "stateMachine"
                and len(names) == 1
                and names[0] in self.engine.machines
            )
            or (
                parsed.resource == "execution"
                and len(names) == 2
                and self.store.execution(names[0], names[1]) is not None
            )
            or (
                parsed.resource == "activity"
                and len(names) == 1
                and self.store.activity(names[0]) is not None
            )
        )
        if not found:
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        return arn

    async def tag_resource(self, params: Params) -> Params:
        arn = self._tagged(params["resourceArn"])
        tags = _tags(params["tags"])
        count = len(self.store.tags(arn).keys() | tags.keys())
        if count > MAX_TAGS:
            raise _too_many_tags(arn, count)
        self.store.set_tags(arn, tags)
        return {}

    async def untag_resource(self, params: Params) -> Params:
        arn = self._tagged(params["resourceArn"])
        self.store.set_tags(arn, {}, remove=[k for k in params["tagKeys"] if k is not None])
        return {}

    async def list_tags_for_resource(self, params: Params) -> Params:
        arn = self._tagged(params["resourceArn"])
        return {"tags": [{"key": k, "value": v} for k, v in self.store.tags(arn).items()]}


def _sync_answer(state: ExecutionState) -> Params:
    """StartSyncExecution's answer, in the fields AWS gives (billingDetails: the run time
    rounded up to 100 ms, and the 64 MB AWS shows for every execution)."""
    answer: Params = {
        "executionArn": state.execution_arn,
        "stateMachineArn": state.state_machine_arn,
        "name": state.execution_name,
        "startDate": _epoch(state.start_time),
        "stopDate": _epoch(state.stop_time or state.start_time),
        "status": state.status,
        "input": json.dumps(state.input, separators=(",", ":")),
        "inputDetails": {"included": True},
    }
    answer.update(_outcome(state))
    took = ((state.stop_time or state.start_time) - state.start_time).total_seconds()
    answer["billingDetails"] = {
        "billedDurationInMilliseconds": max(100, -(-int(took * 1000) // 100) * 100),
        "billedMemoryUsedInMB": 64,
    }
    return answer


def _parsed_arn(arn: str) -> StatesArn:
    """The parts of a Step Functions ARN; AWS's InvalidArn when ``arn`` is not one."""
    parsed = parse_states_arn(arn)
    if parsed is None:
        prefix = "" if arn.startswith("arn:") else "Invalid ARN prefix: "
        raise ApiError("InvalidArn", f"Invalid Arn: '{prefix}{arn}'")
    return parsed


def _tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """Tags as a dict. The model leaves ``key`` optional; AWS requires it."""
    for index, tag in enumerate(tags, start=1):
        if not isinstance(tag, dict) or "key" not in tag:
            raise ApiError(
                "ValidationException",
                f"1 validation error detected: Value null at 'tags.{index}.member.key' failed"
                " to satisfy constraint: Member must not be null",
            )
    return {t["key"]: t.get("value", "") for t in tags}


def _too_many_tags(arn: str, count: int) -> ApiError:
    return ApiError(
        "TooManyTags", f"Too many tags: '{arn}' would have {count}; the limit is {MAX_TAGS}"
    )


def _supported_options(params: Params) -> None:
    """Refuse, with AWS's error types, the options this engine cannot honour (rather than
    accept them and silently do nothing)."""
    logging_options = params.get("loggingConfiguration") or {}
    if logging_options.get("level", "OFF") != "OFF" or logging_options.get("destinations"):
        raise ApiError(
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: this engine sends no logs to CloudWatch Logs"
            " (execution history is kept in its store); use level OFF with no destinations",
        )
    if (params.get("tracingConfiguration") or {}).get("enabled"):
        raise ApiError(
            "InvalidTracingConfiguration",
            "Invalid Tracing Configuration: X-Ray tracing is not supported by this engine",
        )
    if "versionDescription" in params and not params.get("publish"):
        raise ApiError(
            "ValidationException", "Version description can only be set when publish is true"
        )
    encryption = params.get("encryptionConfiguration")
    if encryption is not None and (
        encryption.get("type") != "AWS_OWNED_KEY"
        or encryption.keys() & {"kmsKeyId", "kmsDataKeyReusePeriodSeconds"}
    ):
        raise ApiError(
            "InvalidEncryptionConfiguration",
            "Invalid Encryption Configuration: customer managed KMS keys are not supported by"
            " this engine; use type AWS_OWNED_KEY with no key",
        )


def _history_event(event: dict[str, Any], include_data: bool) -> dict[str, Any]:
    shaped = dict(event)
    shaped["timestamp"] = datetime.fromisoformat(event["timestamp"]).timestamp()
    if not include_data:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                shaped[key] = {k: v for k, v in details.items() if k not in {"input", "output"}}
    return shaped


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def _outcome(state: ExecutionState) -> Params:
    """How an execution ended, as DescribeExecution shows it: output, error, cause."""
    found: Params = {}
    if state.status == "SUCCEEDED":
        found["output"] = json.dumps(state.output, separators=(",", ":"))
        found["outputDetails"] = {"included": True}
    if state.error is not None:
        found["error"] = state.error
    if state.cause is not None:
        found["cause"] = state.cause
    return found
