"""The engine: the only place that loads an execution, steps it, and commits the outcome.

It is synchronous on purpose: loading, stepping and committing one event run without an
``await`` in between, so the event loop never interleaves two events of one execution. The
async service around it publishes the outbox and acks the inbound message afterwards.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import messages
from broker.topology import CONTROL_QUEUE, EXECUTIONS_EXCHANGE, TASK_RESULTS_QUEUE
from messages.status_events import (
    Details,
    StatusChangeDetail,
    StatusChangeEvent,
    event_time,
)
from messages.status_events import routing_key as status_routing_key
from orchestrator import metrics
from orchestrator.arns import Account
from orchestrator.asl import errors, interpreter, map_run
from orchestrator.asl.definition import StateMachine
from orchestrator.asl.loader import load_definition
from orchestrator.integrations import nested
from orchestrator.integrations.answers import failed as failed_call
from orchestrator.integrations.dispatch import dispatch_message
from orchestrator.integrations.mock_target import MockTarget
from orchestrator.integrations.routing import Routing
from orchestrator.store import ExecutionExists, ExecutionRecord, OutboxMessage, Store
from orchestrator.store.express.memory import ExecutionLimit
from orchestrator.store.express.routed import is_express_arn
from orchestrator.task_messages import integration_request, task_event

log = logging.getLogger(__name__)
# AWS keeps no history of EXPRESS executions (their logs go to CloudWatch, at a level the
# user sets); we keep it for `history` and the console, but no more than the first this many
# events and the final one: an EXPRESS execution may run 5 minutes of steps. (Those a store
# holds durably: a Distributed Map's EXPRESS children. The ones held in memory keep fewer,
# see orchestrator.store.express.)
EXPRESS_HISTORY_KEPT = 25_000
# AWS: 1-80 characters, none of whitespace, brackets, wildcards or these punctuation marks.
_NO_INPUT: Any = object()  # start(): the intake request's input is the execution's
_VALID_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


class StartRejected(ValueError):
    """An execution could not be started: AWS's error name and the cause.

    ``str()`` gives ``"<error>: <cause>"``. ``execution_arn`` names the existing execution
    for ExecutionAlreadyExists.
    """

    def __init__(self, error: str, cause: str, execution_arn: str | None = None) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.execution_arn = execution_arn


class Engine:
    """Starts executions and applies task results, committing each step with its outbox."""

    def __init__(
        self,
        machines: Mapping[str, StateMachine],
        store: Store,
        *,
        account: Account | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        routing: Routing | None = None,
        mock: MockTarget | None = None,
        time_scale: float = 1.0,
        status_events: bool = True,
        shared_store: bool = False,
    ) -> None:
        self.machines = dict(machines)
        # Where dispatched tasks go (SFN_INTEGRATIONS), and the mocked ones (SFN_MOCK_CONFIG).
        self.routing = routing or Routing()
        self.mock = mock
        # Step Functions Local's WAIT_TIME_SCALE: the timers of executions started here.
        self.time_scale = time_scale
        # EventBridge-shaped status changes on the executions exchange (two messages per
        # execution; SFN_STATUS_EVENTS=off saves them).
        self.status_events = status_events
        # The state machines of the definitions folder: their files are their source of truth.
        self.from_folder = frozenset(machines)
        # Role ARNs given at creation (API); others get the role AWS would make for them.
        self.roles: dict[str, str] = {}
        self.store = store
        # Other orchestrators share the store (PostgreSQL): the state machines they create
        # through their APIs are found there (sync_machines).
        self.shared_store = shared_store
        self.account = account or Account()
        self.clock = clock
        # Executions run the definition they started with: current ones by name, older ones
        # loaded from the store by hash when an execution that started with them moves on.
        self.current = {
            name: store.save_definition(name, m.source) for name, m in self.machines.items()
        }
        self.by_hash = {self.current[name]: m for name, m in self.machines.items()}
        # Distributed Map children's machines, by (definition hash, Map Run, scope).
        self._children: dict[tuple[str, str, int], StateMachine] = {}
        for record in store.state_machines():  # created through the API in earlier runs
            if record.name not in self.machines:
                machine = load_definition(record.definition, name=record.name)
                kind: Literal["STANDARD", "EXPRESS"] = (
                    "EXPRESS" if record.type == "EXPRESS" else "STANDARD"
                )
                self.register(
                    dataclasses.replace(machine, type=kind),
                    record.definition_hash,
                    role_arn=record.role_arn,
                )
        self._dispatched: dict[str, tuple[str, float]] = {}  # token -> (function, when)
        self._heartbeats: dict[str, float] = {}  # token -> when its last heartbeat came
        # Told of each timer a commit sets (the service's timer loop wakes for one due soon).
        self.on_timer: Callable[[datetime], None] | None = None
        # Told the ARN of each execution whose history a commit extended (the console's
        # live views wait on it instead of polling the store).
        self.on_commit: Callable[[str], None] | None = None

    def register(self, machine: StateMachine, digest: str, *, role_arn: str | None = None) -> None:
        """Make ``machine`` (stored under ``digest``) the current definition of its name.

        ``role_arn``: the role its executions show (``$$.Execution.RoleArn``, history); None
        keeps the one registered before, else AWS's default role name for the machine.
        """
        self.by_hash[digest] = machine
        self.machines[machine.name] = machine
        self.current[machine.name] = digest
        if role_arn:
            self.roles[machine.name] = role_arn

    def unregister(self, name: str) -> None:
        """Start no more executions of ``name``; running ones finish with their definition."""
        self.machines.pop(name, None)
        self.current.pop(name, None)
        self.roles.pop(name, None)

    def sync_machines(self) -> None:
        """Take the state machines another orchestrator sharing the store created, updated
        or deleted (through its API) since this one last looked. The definitions folder's
        machines are every replica's own and stay as loaded."""
        stored = self.store.state_machine_digests()
        for name in [n for n in self.machines if n not in self.from_folder]:
            if name not in stored:
                self.unregister(name)
        for name, (digest, kind, role) in stored.items():
            if name in self.from_folder:
                continue
            known = self.machines.get(name)
            if (
                known is not None
                and self.current.get(name) == digest
                and known.type == kind
                and self.roles.get(name) == role
            ):
                continue
            machine = self.machine_of(digest, name)
            if machine is None:
                continue
            machine_type: Literal["STANDARD", "EXPRESS"] = (
                "EXPRESS" if kind == "EXPRESS" else "STANDARD"
            )
            self.register(dataclasses.replace(machine, type=machine_type), digest, role_arn=role)

    def role_arn(self, name: str) -> str:
        """The role ARN executions of state machine ``name`` run with."""
        return self.roles.get(name) or self.account.role_arn(name)

    def start(
        self,
        request: messages.IntakeRequest,
        *,
        pinned: tuple[StateMachine, str] | None = None,
        child_input: Any = _NO_INPUT,
        execution_arn: str | None = None,
    ) -> list[int]:
        """Start an execution; returns the ids of the outbox messages to publish.

        Starting is idempotent by name: the same name with the same input returns ``[]``
        (nothing new to send). Raises :class:`StartRejected` for an unknown state machine, an
        invalid name, or the same name with a different input (ExecutionAlreadyExists).
        ``pinned`` runs a published version instead of the current definition: its machine
        and definition hash. ``child_input`` is a Distributed Map child's input, which may be
        any JSON value (an intake request's is an object). ``execution_arn``: the ARN of an
        EXPRESS execution run again from its start (after a crash), instead of a new one.
        """
        machine = pinned[0] if pinned is not None else self.machines.get(request.state_machine)
        if machine is None and self.shared_store:  # created through another replica's API
            self.sync_machines()
            machine = self.machines.get(request.state_machine)
        if machine is None:
            known = ", ".join(sorted(self.machines)) or "none"
            raise StartRejected(
                "StateMachineDoesNotExist",
                f"no state machine named {request.state_machine!r} (loaded: {known})",
            )
        name = request.execution_name or str(uuid.uuid4())
        if not _VALID_NAME.match(name):
            raise StartRejected("InvalidName", f"{name!r} is not a valid execution name")
        given = request.input if child_input is _NO_INPUT else child_input
        existing = self.store.execution(machine.name, name)
        if existing is not None:
            return self._duplicate(existing, request, given)
        start = interpreter.StartExecution(
            execution_arn=execution_arn or self._new_arn(machine, name, request),
            execution_name=name,
            state_machine_arn=self.account.state_machine_arn(machine.name),
            input=given,
            time=self.clock(),
            token_prefix=secrets.token_hex(16),
            role_arn=self.role_arn(machine.name),
            test_case=request.test_case,
            parent=request.parent.model_dump(by_alias=False) if request.parent else None,
            time_scale=self.time_scale,
        )
        try:
            step = interpreter.step(machine, None, start)
        except Exception as exc:  # a fault of ours: the execution fails, it is not lost
            log.exception("starting execution %s failed", start.execution_arn)
            step = interpreter.failed_start(
                machine, start, errors.RUNTIME, internal_cause("starting the execution", exc)
            )
        digest = pinned[1] if pinned is not None else self.current[machine.name]
        record = ExecutionRecord(step.state, request.reply_to, request.correlation_id, digest)
        try:
            return self._commit(record, step, new=True)
        except ExecutionExists:  # lost a race with a redelivery of the same start
            raced = self.store.execution(machine.name, name)
            assert raced is not None
            return self._duplicate(raced, request, given)
        except ExecutionLimit as full:  # the EXPRESS executions held in memory
            raise StartRejected("ExecutionLimitExceeded", str(full)) from None

    def _new_arn(self, machine: StateMachine, name: str, request: messages.IntakeRequest) -> str:
        """A new execution's ARN: an EXPRESS one's is ``...:express:SM:NAME:RUN`` as on AWS
        (and runs in memory, see store.routed), except a Distributed Map child's (its Map
        Run lists and describes it, so it is kept as a STANDARD one is)."""
        in_map_run = request.parent is not None and request.parent.pattern == "map"
        if machine.type == "EXPRESS" and not in_map_run:
            return self.account.express_execution_arn(machine.name, name, str(uuid.uuid4()))
        return self.account.execution_arn(machine.name, name)

    def start_map_child(self, request: messages.IntegrationRequest) -> list[int]:
        """Start the child execution a Distributed Map's item asks for (idempotent by its
        name); the outbox ids to publish. Nothing when the parent is gone or has ended."""
        parent = self.store.execution_by_arn(request.execution_arn)
        if parent is None or parent.state.status != "RUNNING" or parent.definition_hash is None:
            return []
        base = self.machine_for(parent)
        parameters = request.parameters
        if base is None or not isinstance(parameters, dict):
            return []
        machine = self._child_machine(base, parent.definition_hash, parameters)
        link = messages.ParentLink(
            execution_arn=request.execution_arn,
            task_token=request.task_token,
            attempt=request.attempt,
            pattern="map",
            map_run=str(parameters["MapRunArn"]),
            scope=int(str(parameters["Scope"])),
            execution_type="EXPRESS" if machine.type == "EXPRESS" else "STANDARD",
        )
        intake = messages.IntakeRequest(
            state_machine=machine.name[:80],
            execution_name=str(parameters["Name"]),
            input={},
            parent=link,
        )
        return self.start(
            intake,
            pinned=(machine, parent.definition_hash),
            child_input=parameters.get("Input"),
        )

    def update_map_run(
        self,
        arn: str,
        max_concurrency: int | None,
        tolerated_count: int | None,
        tolerated_percentage: float | None,
    ) -> list[int] | None:
        """UpdateMapRun: the new limits reach the running Map Run (None: it is not running)."""
        found = self.store.map_run(arn)
        record = self.store.execution_by_arn(found.execution_arn) if found else None
        if record is None:
            return None
        event = interpreter.UpdateMapRun(
            arn, max_concurrency, tolerated_count, tolerated_percentage, self.clock()
        )
        ids = self._step(record, event)
        if ids is not None:
            self.store.set_map_run_limits(
                arn, max_concurrency, tolerated_count, tolerated_percentage
            )
        return ids

    def _child_machine(
        self, base: StateMachine, digest: str, parameters: Mapping[str, Any]
    ) -> StateMachine:
        """A Distributed Map child's machine (cached: every item of a run shares it)."""
        key = (digest, str(parameters["MapRunArn"]), int(str(parameters["Scope"])))
        machine = self._children.get(key)
        if machine is None:
            machine = map_run.child_machine(base, dict(parameters))
            if len(self._children) >= 256:
                self._children.pop(next(iter(self._children)))
            self._children[key] = machine
        return machine

    def start_nested(
        self, request: messages.IntegrationRequest
    ) -> tuple[list[messages.AnyTaskResult], list[int]]:
        """Start the child execution a ``states:startExecution`` task asks for: the results
        for the parent's task now, and the outbox ids to publish."""
        try:
            intake = nested.child_request(request, self.account)
            existing = self.store.execution(intake.state_machine, intake.execution_name or "")
            # Not a redelivery of this task's own start: AWS's rule for a name in use applies.
            if (
                existing is not None
                and (existing.state.parent or {}).get("task_token") != request.task_token
                and (existing.state.status != "RUNNING" or existing.state.input != intake.input)
            ):
                arn = existing.state.execution_arn
                raise nested.failure(
                    request, "ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'", 400
                )
            ids = self.start(intake)
        except StartRejected as exc:
            code = exc.error
            message = (
                f"State Machine Does Not Exist: '{request.parameters.get('StateMachineArn')}'"  # type: ignore[union-attr]
                if code == "StateMachineDoesNotExist"
                else exc.cause
            )
            failed = nested.failure(request, code, message, 400)
            return [failed_call(request, failed.error, failed.cause)], []
        except nested.StartFailed as failed:
            return [failed_call(request, failed.error, failed.cause)], []
        child = self.store.execution(intake.state_machine, intake.execution_name or "")
        assert child is not None
        return nested.start_results(request, child.state), ids

    def apply(
        self,
        result: messages.AnyTaskResult,
        *,
        reply_to: str | None = None,
        correlation_id: str | None = None,
    ) -> list[int] | None:
        """Apply a task result or callback; the outbox ids to publish, or None when it did
        not apply.

        A result for an unknown token, a finished execution or an old attempt is a duplicate
        or stale delivery and is dropped. A callback with ``reply_to`` that applies is
        answered there (:class:`messages.CallbackOutcome`, ACCEPTED) in the same commit.
        """
        record = self.store.execution_by_token(result.task_token)
        if record is None:
            return None
        dispatched = self._dispatched.get(result.task_token)
        answer: list[OutboxMessage] = []
        if reply_to and not isinstance(result, messages.TaskSucceeded | messages.TaskFailed):
            outcome = messages.CallbackOutcome(status="ACCEPTED", task_token=result.task_token)
            answer.append(OutboxMessage("", reply_to, outcome.to_wire(), correlation_id))
        ids = self._step(record, task_event(result, self.clock()), answer)
        if isinstance(result, messages.TaskCallbackHeartbeat) and ids is not None:
            self._heartbeats[result.task_token] = time.monotonic()
        if dispatched is not None and ids is not None:
            metrics.TASK_SECONDS.labels(dispatched[0]).observe(time.monotonic() - dispatched[1])
        return ids

    def redrive(self, execution_arn: str) -> list[int] | None:
        """Run a FAILED, ABORTED or TIMED_OUT execution again from the state it ended in;
        None when it is not redrivable (the API checks and says why first)."""
        record = self.store.execution_by_arn(execution_arn)
        if record is None:
            return None
        machine = self.machine_for(record)
        if machine is None:
            return None
        step = interpreter.step(machine, record.state, interpreter.RedriveExecution(self.clock()))
        if step.ignored:
            return None
        updated = dataclasses.replace(record, state=step.state)
        return self._commit(updated, step, new=False, previous=record.state)

    def fail_execution(self, execution_arn: str, cause: str) -> list[int] | None:
        """End a running execution FAILED with States.Runtime and ``cause`` (the service could
        not apply something to it); None when it is not running."""
        record = self.store.execution_by_arn(execution_arn)
        if record is None:
            return None
        return self._step(record, interpreter.FailExecution(errors.RUNTIME, cause, self.clock()))

    def fail_task(self, token: str, attempt: int, error: str, cause: str) -> list[int] | None:
        """Fail a dispatched task from here (its function cannot be reached: AWS's
        Lambda.ResourceNotFoundException); None when the task is no longer waiting."""
        record = self.store.execution_by_token(token)
        if record is None:
            return None
        event = interpreter.TaskFailed(token, attempt, error, cause, self.clock())
        return self._step(record, event)

    def stop(self, request: messages.StopExecutionRequest) -> list[int] | None:
        """Abort a running execution; None when there is no such running execution."""
        record = (
            self.store.execution_by_arn(request.execution_arn)
            if request.execution_arn
            else self.store.execution(request.state_machine or "", request.name or "")
        )
        if record is None:
            return None
        event = interpreter.StopExecution(request.error, request.cause, self.clock())
        return self._step(record, event)

    def fire_timer(self, timer: str, execution_arn: str) -> list[int] | None:
        """A stored timer is due: step its execution; None when the timer no longer applies."""
        record = self.store.execution_by_arn(execution_arn)
        if record is None:
            return None
        ids = self._step(record, interpreter.TimerFired(timer, self.clock()))
        if ids is None:  # stale (already fired, or its state moved on): forget it
            self.store.delete_timer(timer)
        return ids

    def _step(
        self,
        record: ExecutionRecord,
        event: interpreter.Event,
        answer: Sequence[OutboxMessage] = (),
    ) -> list[int] | None:
        machine = self.machine_for(record)
        if machine is None:
            return None
        try:
            step = interpreter.step(machine, record.state, event)
        except Exception as exc:
            # A fault of ours, not the workflow's: retrying the event would fail the same way,
            # so the execution ends, FAILED with States.Runtime, and says why.
            log.exception("applying %s to %s failed", _describe(event), record.state.execution_arn)
            failure = interpreter.FailExecution(
                errors.RUNTIME, internal_cause(f"applying {_describe(event)}", exc), self.clock()
            )
            step = interpreter.step(machine, record.state, failure)
        if step.ignored:
            return None
        updated = dataclasses.replace(record, state=step.state)
        return self._commit(updated, step, new=False, previous=record.state, answer=answer)

    def machine_for(self, record: ExecutionRecord) -> StateMachine | None:
        """The definition ``record`` started with (the current one for older records); a
        Distributed Map child's is its Map's ItemProcessor."""
        digest = record.definition_hash
        if digest is None:
            return self.machines.get(record.state.state_machine_name)
        machine = self.machine_of(digest, record.state.execution_arn)
        link = record.state.parent
        if machine is not None and link is not None and link.get("pattern") == "map":
            return self._child_machine(
                machine,
                digest,
                {
                    "MapRunArn": link["map_run"],
                    "Scope": link["scope"],
                    "ExecutionType": link.get("execution_type"),
                },
            )
        return machine

    def machine_of(self, digest: str, user: str = "") -> StateMachine | None:
        """The compiled definition stored under ``digest`` (None, logged, when it is gone)."""
        machine = self.by_hash.get(digest)
        if machine is None:
            stored = self.store.definition(digest)
            if stored is None:
                log.error("definition %s of %s is missing", digest, user)
                return None
            machine = load_definition(stored[1], name=stored[0])
            self.by_hash[digest] = machine
        return machine

    def _duplicate(
        self, existing: ExecutionRecord, request: messages.IntakeRequest, given: Any
    ) -> list[int]:
        """A start of an existing execution: nothing new, except an answer to a new asker.

        A redelivered intake message (same reply address) needs nothing. A different client
        asking for a finished execution gets its result at once, as StartExecution returns
        the existing execution in AWS; one asking for a running execution gets it when it
        ends. ``given`` is the input the start asked for.
        """
        state = existing.state
        if state.input != given:
            raise StartRejected(
                "ExecutionAlreadyExists",
                f"execution {state.execution_name!r} of {state.state_machine_name!r} already"
                " exists with a different input",
                state.execution_arn,
            )
        same_asker = (request.reply_to, request.correlation_id) == (
            existing.reply_to,
            existing.correlation_id,
        )
        if not request.reply_to or same_asker:
            return []
        if state.status == "RUNNING":
            if not self.store.add_waiter(
                state.execution_arn, request.reply_to, request.correlation_id
            ):
                log.warning("execution %s has too many waiting askers", state.execution_arn)
            return []
        body = execution_result(state).to_wire()
        answer = OutboxMessage("", request.reply_to, body, correlation_id=request.correlation_id)
        return self.store.enqueue([answer], created=time.time())

    def in_flight(self) -> dict[str, tuple[int, float, float | None]]:
        """Tasks dispatched and not answered, by function or integration queue: how many, how
        long the oldest has waited, and how long ago the latest heartbeat of any of them came
        (None: none sent one), in seconds."""
        now = time.monotonic()
        found: dict[str, tuple[int, float, float | None]] = {}
        for token, (function, since) in self._dispatched.items():
            count, oldest, beat = found.get(function, (0, 0.0, None))
            last = self._heartbeats.get(token)
            if last is not None:
                beat = now - last if beat is None else min(beat, now - last)
            found[function] = (count + 1, max(oldest, now - since), beat)
        return found

    def _commit(
        self,
        record: ExecutionRecord,
        step: interpreter.Step,
        *,
        new: bool,
        previous: interpreter.ExecutionState | None = None,
        answer: Sequence[OutboxMessage] = (),
    ) -> list[int]:
        outbox = [m for command in step.commands for m in self._messages(record, command)]
        outbox.extend(answer)
        started = step.history and step.history[0].type == "ExecutionStarted"
        if started and self._emits_status_events(record.state):
            outbox.insert(0, self._status_change(record.state, "RUNNING"))
        history = step.history
        if history and history[-1].id > EXPRESS_HISTORY_KEPT and self._express(record):
            history = [e for e in history if e.id <= EXPRESS_HISTORY_KEPT or _final(e)]
        ids = self.store.commit(
            record, history, outbox, new=new, created=time.time(), previous=previous
        )
        state = record.state
        self._observe(state, step)
        if self.on_commit is not None and step.history:
            self.on_commit(state.execution_arn)
        if self.on_timer is not None:
            for command in step.commands:
                if isinstance(command, interpreter.StartTimer):
                    self.on_timer(command.due)
        if previous is not None:  # tasks done, timed out or stopped: their clocks go too
            # (changes_from reads only what the step changed: a Map has a token per item.)
            for token in state.tokens.changes_from(previous.tokens)[1]:
                self._dispatched.pop(token, None)
                self._heartbeats.pop(token, None)
        if state.status != "RUNNING":
            log.info(
                "execution %s of %s %s%s",
                state.execution_name,
                state.state_machine_name,
                state.status,
                f" ({': '.join(x for x in (state.error, state.cause) if x)})"
                if state.status != "SUCCEEDED"
                else "",
            )
        return ids

    def _express(self, record: ExecutionRecord) -> bool:
        machine = self.machine_for(record)
        return machine is not None and machine.type == "EXPRESS"

    def _observe(self, state: interpreter.ExecutionState, step: interpreter.Step) -> None:
        """Count what the committed step did, for /metrics."""
        machine = state.state_machine_name
        entered = sum(1 for event in step.history if event.type.endswith("StateEntered"))
        if entered:
            metrics.STATE_TRANSITIONS.labels(machine).inc(entered)
        if step.history and step.history[0].type == "ExecutionStarted":
            metrics.EXECUTIONS_STARTED.labels(machine).inc()
        if state.status != "RUNNING":
            metrics.EXECUTIONS_FINISHED.labels(machine, state.status).inc()
        now = time.monotonic()
        for command in step.commands:
            if isinstance(command, interpreter.DispatchTask):
                self._dispatched[command.token] = (command.function_name, now)

    def _messages(
        self, record: ExecutionRecord, command: interpreter.Command
    ) -> list[OutboxMessage]:
        state = record.state
        if isinstance(command, interpreter.StartTimer | interpreter.CancelTimer):
            return []  # timers are rows the commit writes from the state itself
        if isinstance(command, interpreter.DispatchTask):
            if command.integration == "activity" and not self._activity_exists(command, state):
                # AWS fails the execution when a Task names an activity that does not exist.
                failed = messages.TaskCallFailed(
                    task_token=command.token,
                    attempt=command.attempt,
                    error=errors.RUNTIME,
                    cause=f"The activity {command.resource} does not exist.",
                )
                return [
                    OutboxMessage(
                        "", TASK_RESULTS_QUEUE, failed.to_wire(), correlation_id=command.token
                    )
                ]
            return [dispatch_message(command, state, self.routing, self.mock)]
        if isinstance(command, interpreter.AbandonTask):  # stop the child a .sync task left
            stop = messages.StopExecutionRequest(
                execution_arn=command.job,
                error="States.Aborted",
                cause=f"The parent execution's task stopped waiting ({state.execution_arn})",
            )
            return [OutboxMessage("", CONTROL_QUEUE, stop.to_wire())]
        result = execution_result(state)
        body = result.to_wire()
        sent = [
            OutboxMessage(EXECUTIONS_EXCHANGE, f"{state.state_machine_name}.{state.status}", body)
        ]
        if self._emits_status_events(state):
            sent.append(self._status_change(state, state.status))
        askers = [(record.reply_to, record.correlation_id)] if record.reply_to else []
        askers += self.store.waiters(state.execution_arn)
        sent += [OutboxMessage("", to, body, correlation_id=key) for to, key in askers]
        if nested.waits_on_child(state):  # a .sync parent task gets the child's end
            answer = nested.child_result(state)
            sent.append(
                OutboxMessage(
                    "", TASK_RESULTS_QUEUE, answer.to_wire(), correlation_id=answer.task_token
                )
            )
        return sent

    def _activity_exists(
        self, command: interpreter.DispatchTask, state: interpreter.ExecutionState
    ) -> bool:
        """Whether the activity a task names was created (a mocked one needs not be)."""
        if self.mock is not None and self.mock.claims(integration_request(command, state)):
            return True
        return self.store.activity_exists(command.resource.rsplit(":", 1)[-1])

    def _emits_status_events(self, state: interpreter.ExecutionState) -> bool:
        """Whether ``state``'s execution sends status-change events: as on AWS, those of
        STANDARD workflows only (EventBridge gets none from Express workflows)."""
        if not self.status_events or is_express_arn(state.execution_arn):
            return False
        link = state.parent
        return not (
            link and link.get("pattern") == "map" and link.get("execution_type") == "EXPRESS"
        )

    def _status_change(self, state: interpreter.ExecutionState, status: str) -> OutboxMessage:
        """The EventBridge-shaped status-change event of ``state`` (see messages.status_events)."""
        ended = status != "RUNNING"
        detail = StatusChangeDetail(
            executionArn=state.execution_arn,
            stateMachineArn=state.state_machine_arn,
            name=state.execution_name,
            status=status,  # type: ignore[arg-type]
            startDate=int(state.start_time.timestamp() * 1000),
            stopDate=int(state.stop_time.timestamp() * 1000) if ended and state.stop_time else None,
            input=json.dumps(state.input, separators=(",", ":")),
            output=json.dumps(state.output, separators=(",", ":"))
            if status == "SUCCEEDED"
            else None,
            outputDetails=Details() if status == "SUCCEEDED" else None,
            error=state.error if ended else None,
            cause=state.cause if ended else None,
        )
        event = StatusChangeEvent(
            account=self.account.account,
            time=event_time(state.stop_time if ended and state.stop_time else state.start_time),
            region=self.account.region,
            resources=[state.execution_arn],
            detail=detail,
        )
        key = status_routing_key(state.state_machine_name, status)
        return OutboxMessage(EXECUTIONS_EXCHANGE, key, event.to_wire())


def internal_cause(doing: str, exc: BaseException) -> str:
    """The cause of an execution failed by a fault of the engine's own."""
    return (
        f"An internal error occurred while {doing}: {type(exc).__name__}: {exc}. The"
        " orchestrator's log has the details."
    )


def _describe(event: interpreter.Event) -> str:
    """An event, as a cause names it."""
    if isinstance(event, interpreter.TimerFired):
        return f"timer {event.timer}"
    if isinstance(event, interpreter.TaskSucceeded | interpreter.TaskFailed):
        return "a callback" if event.callback else "a task result"
    if isinstance(event, interpreter.TaskHeartbeat):
        return "a task heartbeat"
    return type(event).__name__


def _final(event: interpreter.HistoryEvent) -> bool:
    """The event that ends an execution (ExecutionSucceeded, ExecutionFailed, ...)."""
    return event.type.startswith("Execution") and event.type != "ExecutionStarted"


def execution_result(state: interpreter.ExecutionState) -> messages.ExecutionResult:
    """The wire result of a finished execution."""
    return messages.ExecutionResult(
        execution_arn=state.execution_arn,
        state_machine_arn=state.state_machine_arn,
        name=state.execution_name,
        status=messages.ExecutionStatus(state.status),
        output=state.output,
        error=state.error,
        cause=state.cause,
        start_date=state.start_time,
        stop_date=state.stop_time or state.start_time,
    )
