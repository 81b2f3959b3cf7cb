"""The Step Functions API actions, over the engine and the store.

Requests are validated against botocore's own model of the service (the shapes boto3 and
the AWS CLI build their calls from), and answers use its field names; errors are AWS's error
types. Each action is one method; ``call`` routes an ``X-Amz-Target`` action name to it.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

import botocore.session
from botocore.validate import ParamValidator

import messages
from orchestrator.arns import Account
from orchestrator.asl.definition import StateMachine
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.execution import ExecutionState
from orchestrator.asl.loader import load_definition
from orchestrator.engine import Engine, StartRejected
from orchestrator.publisher import OutboxPublisher

_MODEL = botocore.session.get_session().get_service_model("stepfunctions")
_VALIDATOR = ParamValidator()
_VALID_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")
_TOKEN = re.compile(r"^[0-9a-f]{32}\.\d+$")
_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
SYNC_TIMEOUT_SECONDS = 300.0

Params = dict[str, Any]
Handler = Callable[[Params], Awaitable[Params]]


class ApiError(Exception):
    """An error as the API returns it: AWS's error type, a message, an HTTP status."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(f"{error_type}: {message}")
        self.type = error_type
        self.message = message
        self.status = status


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _page(items: list[Any], params: Params, default: int = 100) -> tuple[list[Any], str | None]:
    """One page of ``items`` for maxResults/nextToken (an opaque offset)."""
    size = params.get("maxResults") or default
    token = params.get("nextToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError:
            raise ApiError("InvalidToken", "The nextToken is not valid.") from None
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following


class StepFunctionsApi:
    """The actions of AWSStepFunctions that this engine serves."""

    def __init__(
        self,
        engine: Engine,
        publisher: OutboxPublisher,
        *,
        account: Account,
        prepare: Callable[[StateMachine], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.publisher = publisher
        self.account = account
        self.prepare = prepare  # declares the queues a new definition's Tasks need
        self.handlers: dict[str, Handler] = {
            name: getattr(self, _snake(name))
            for name in (
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
            )
        }

    async def call(self, action: str, params: Params) -> Params:
        """Run ``action`` with ``params``; raises :class:`ApiError`."""
        handler = self.handlers.get(action)
        if handler is None:
            raise ApiError("UnknownOperationException", f"Unknown operation {action}")
        report = _VALIDATOR.validate(params, _MODEL.operation_model(action).input_shape)
        if report.has_errors():
            raise ApiError("ValidationException", report.generate_report())
        return await handler(params)

    # -- state machines ------------------------------------------------------------------------

    def _machine_name(self, arn: str) -> str:
        names = self.account.names_in(arn, "stateMachine", 1)
        if names is None:
            raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
        return names[0]

    def _machine(self, arn: str) -> tuple[str, StateMachine]:
        name = self._machine_name(arn)
        machine = self.engine.machines.get(name)
        if machine is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return name, machine

    def _compile(self, text: str, name: str) -> StateMachine:
        try:
            return load_definition(text, name=name)
        except DefinitionError as exc:
            problems = "; ".join(p.describe() for p in exc.problems)
            raise ApiError(
                "InvalidDefinition", f"Invalid State Machine Definition: '{problems}'"
            ) from None

    async def create_state_machine(self, params: Params) -> Params:
        name: str = params["name"]
        if not _VALID_NAME.match(name):
            raise ApiError("InvalidName", f"Invalid Name: '{name}'")
        kind: Literal["STANDARD", "EXPRESS"] = params.get("type", "STANDARD")
        machine = self._compile(params["definition"], name)
        existing = self.store.state_machine(name)
        arn = self.account.state_machine_arn(name)
        if existing is not None and name in self.engine.machines:
            same = (existing.definition, existing.type, existing.role_arn) == (
                params["definition"],
                kind,
                params["roleArn"],
            )
            if not same:
                raise ApiError(
                    "StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'"
                )
            return {"stateMachineArn": arn, "creationDate": existing.created}
        record = self.store.put_state_machine(name, params["definition"], kind, params["roleArn"])
        await self._activate(machine, kind, record.definition_hash)
        if params.get("tags"):
            self.store.set_tags(arn, {t["key"]: t.get("value", "") for t in params["tags"]})
        return {"stateMachineArn": arn, "creationDate": record.created}

    async def _activate(
        self, machine: StateMachine, kind: Literal["STANDARD", "EXPRESS"], digest: str
    ) -> None:
        machine = dataclasses.replace(machine, type=kind)
        if self.prepare is not None:
            await self.prepare(machine)
        self.engine.register(machine, digest)

    async def describe_state_machine(self, params: Params) -> Params:
        name, _ = self._machine(params["stateMachineArn"])
        record = self.store.state_machine(name)
        assert record is not None
        return {
            "stateMachineArn": self.account.state_machine_arn(name),
            "name": name,
            "status": "ACTIVE",
            "definition": record.definition,
            "roleArn": record.role_arn or self.account.role_arn(name),
            "type": record.type,
            "creationDate": record.created,
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
        }

    async def update_state_machine(self, params: Params) -> Params:
        name, current = self._machine(params["stateMachineArn"])
        record = self.store.state_machine(name)
        assert record is not None
        text = params.get("definition", record.definition)
        machine = self._compile(text, name)
        updated = self.store.put_state_machine(name, text, record.type, params.get("roleArn"))
        await self._activate(machine, current.type, updated.definition_hash)
        return {"updateDate": updated.updated, "revisionId": updated.definition_hash}

    async def delete_state_machine(self, params: Params) -> Params:
        name = self._machine_name(params["stateMachineArn"])
        self.engine.unregister(name)
        self.store.delete_state_machine(name)
        return {}

    async def list_state_machines(self, params: Params) -> Params:
        records = self.store.state_machines()
        page, following = _page([r for r in records if r.name in self.engine.machines], params)
        answer: Params = {
            "stateMachines": [
                {
                    "stateMachineArn": self.account.state_machine_arn(r.name),
                    "name": r.name,
                    "type": r.type,
                    "creationDate": r.created,
                }
                for r in page
            ]
        }
        if following:
            answer["nextToken"] = following
        return answer

    async def validate_state_machine_definition(self, params: Params) -> Params:
        try:
            load_definition(params["definition"], name="Validation")
        except DefinitionError as exc:
            diagnostics = [
                {
                    "severity": "ERROR",
                    "code": p.code,
                    "message": p.message,
                    "location": p.pointer or "/",
                }
                for p in exc.problems
            ]
            limit = params.get("maxResults") or 100
            return {
                "result": "FAIL",
                "diagnostics": diagnostics[:limit],
                "truncated": len(diagnostics) > limit,
            }
        return {"result": "OK", "diagnostics": [], "truncated": False}

    async def describe_state_machine_for_execution(self, params: Params) -> Params:
        state, digest = self._execution(params["executionArn"])
        stored = self.store.definition(digest) if digest else None
        definition = stored[1] if stored else self.engine.machines[state.state_machine_name].source
        return {
            "stateMachineArn": state.state_machine_arn,
            "name": state.state_machine_name,
            "definition": definition,
            "roleArn": state.role_arn,
            "updateDate": _epoch(state.start_time),
        }

    # -- executions ----------------------------------------------------------------------------

    def _execution(self, arn: str) -> tuple[ExecutionState, str | None]:
        names = self.account.names_in(arn, "execution", 2)
        if names is None:
            raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
        record = self.store.execution(*names)
        if record is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return record.state, record.definition_hash

    def _input(self, params: Params) -> Any:
        text = params.get("input", "{}")
        try:
            value = json.loads(text)
        except ValueError:
            raise ApiError(
                "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{text}'"
            ) from None
        if len(text.encode()) > messages.executions.MAX_INPUT_BYTES:
            raise ApiError("InvalidExecutionInput", "The input is over 262144 bytes")
        return value

    async def start_execution(self, params: Params) -> Params:
        name, _ = self._machine(params["stateMachineArn"])
        execution_input = self._input(params)
        execution_name = params.get("name") or str(uuid.uuid4())
        if not _VALID_NAME.match(execution_name):
            raise ApiError("InvalidName", f"Invalid Name: '{execution_name}'")
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
        )
        try:
            ids = self.engine.start(request)
        except StartRejected as exc:
            kind, _, message = str(exc).partition(": ")
            raise ApiError(kind, message) from None
        await self.publisher.publish(ids)
        started = self.store.execution(name, execution_name)
        assert started is not None
        return {
            "executionArn": started.state.execution_arn,
            "startDate": _epoch(started.state.start_time),
        }

    async def start_sync_execution(self, params: Params) -> Params:
        _, machine = self._machine(params["stateMachineArn"])
        if machine.type != "EXPRESS":
            raise ApiError(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            )
        started = await self.start_execution(params)
        arn = started["executionArn"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SYNC_TIMEOUT_SECONDS
        while True:
            state, _ = self._execution(arn)
            if state.status in _TERMINAL:
                break
            if loop.time() > deadline:
                raise ApiError("ValidationException", "The execution did not finish in time")
            await asyncio.sleep(0.02)
        answer = self._described(state)
        answer["status"] = state.status
        answer.pop("redriveCount", None)
        answer.pop("redriveStatus", None)
        return answer

    async def stop_execution(self, params: Params) -> Params:
        state, _ = self._execution(params["executionArn"])
        if state.status == "RUNNING":
            request = messages.StopExecutionRequest(
                execution_arn=state.execution_arn,
                error=params.get("error"),
                cause=params.get("cause"),
            )
            ids = self.engine.stop(request)
            await self.publisher.publish(ids or [])
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
            "redriveCount": 0,
            "redriveStatus": "NOT_REDRIVABLE",
        }
        if state.stop_time is not None:
            answer["stopDate"] = _epoch(state.stop_time)
        if state.status == "SUCCEEDED":
            answer["output"] = json.dumps(state.output, separators=(",", ":"))
            answer["outputDetails"] = {"included": True}
        if state.error is not None:
            answer["error"] = state.error
        if state.cause is not None:
            answer["cause"] = state.cause
        return answer

    async def describe_execution(self, params: Params) -> Params:
        state, _ = self._execution(params["executionArn"])
        return self._described(state)

    async def list_executions(self, params: Params) -> Params:
        if "stateMachineArn" not in params:
            raise ApiError("ValidationException", "stateMachineArn is required")
        name = self._machine_name(params["stateMachineArn"])
        if name not in self.engine.machines and self.store.state_machine(name) is None:
            raise ApiError(
                "StateMachineDoesNotExist",
                f"State Machine Does Not Exist: '{params['stateMachineArn']}'",
            )
        states = self.store.executions(params.get("statusFilter"), state_machine=name)
        page, following = _page(states, params)
        answer: Params = {
            "executions": [
                {
                    key: value
                    for key, value in {
                        "executionArn": s.execution_arn,
                        "stateMachineArn": s.state_machine_arn,
                        "name": s.execution_name,
                        "status": s.status,
                        "startDate": _epoch(s.start_time),
                        "stopDate": _epoch(s.stop_time),
                    }.items()
                    if value is not None
                }
                for s in page
            ]
        }
        if following:
            answer["nextToken"] = following
        return answer

    async def get_execution_history(self, params: Params) -> Params:
        state, _ = self._execution(params["executionArn"])
        events = self.store.history(state.execution_arn)
        if params.get("reverseOrder"):
            events.reverse()
        include = params.get("includeExecutionData", True)
        page, following = _page(events, params)
        shaped = [_history_event(event, include) for event in page]
        answer: Params = {"events": shaped}
        if following:
            answer["nextToken"] = following
        return answer

    # -- task tokens ---------------------------------------------------------------------------

    async def _callback(self, result: messages.AnyTaskResult) -> Params:
        if not _TOKEN.match(result.task_token):
            raise ApiError("InvalidToken", f"Invalid Token: '{result.task_token}'")
        ids = self.engine.apply(result)
        if ids is None:
            raise ApiError("TaskDoesNotExist", "Task Does Not Exist")
        await self.publisher.publish(ids)
        return {}

    async def send_task_success(self, params: Params) -> Params:
        try:
            output = json.loads(params["output"])
        except ValueError:
            raise ApiError("InvalidOutput", f"Invalid Output: '{params['output']}'") from None
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
        if ":stateMachine:" in arn:
            self._machine(arn)
        elif ":execution:" in arn:
            self._execution(arn)
        else:
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        return arn

    async def tag_resource(self, params: Params) -> Params:
        arn = self._tagged(params["resourceArn"])
        self.store.set_tags(arn, {t["key"]: t.get("value", "") for t in params["tags"]})
        return {}

    async def untag_resource(self, params: Params) -> Params:
        arn = self._tagged(params["resourceArn"])
        self.store.set_tags(arn, {}, remove=params["tagKeys"])
        return {}

    async def list_tags_for_resource(self, params: Params) -> Params:
        arn = self._tagged(params["resourceArn"])
        return {"tags": [{"key": k, "value": v} for k, v in self.store.tags(arn).items()]}


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
