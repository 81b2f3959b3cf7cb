"""An execution's progress as the console shows it, derived from its history alone.

:func:`progress` reads AWS-shaped history events (as ``GetExecutionHistory`` returns them:
``<type>EventDetails`` keys; the conformance corpus's ``{"type", "details"}`` shape is read
too) and gives each state's status, the list of steps (one per state entered, like the AWS
console's "Table view") and the execution's summary. It is pure, never raises on odd input,
and runs in one pass, linear in the number of events.

Which Map iteration a step ran in is read from the ``previousEventId`` chains, as AWS and
this engine write them (each iteration's and branch's events chain to that thread's last
event). Histories whose every event follows the one before (stored by older versions, or
hand-made) say nothing of threads, and for everything else the reading is heuristic:
- an event naming no state (task events, ``*StateAborted``, Map/Parallel ``*Started`` etc.)
  goes to the step it directly follows when that fits (``TaskScheduled`` after its
  ``TaskStateEntered``), else the only candidate, else the one the next ``*StateExited``
  names, else the oldest (FIFO);
- ``parent`` is the innermost (latest entered) Map/Parallel step still running its children;
  without chains, ``iteration`` is set only when exactly one iteration of that Map is open;
  ``branch`` is None;
- a failure that propagates (``MapIterationFailed``, ``*StateFailed``, ``ExecutionFailed``)
  right after an event of a still-open step failed there: the engine records it at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

_FAN_OUT = ("Map", "Parallel")
_FAMILIES = {"Task": "task", "LambdaFunction": "lambda", "Activity": "activity"}
_TASK_EVENTS = {"Scheduled", "Started", "Submitted", "Succeeded", "Failed", "TimedOut"}
_TASK_EVENTS |= {"ScheduleFailed", "StartFailed", "SubmitFailed"}
_ENDS = dict(Succeeded="SUCCEEDED", Failed="FAILED", TimedOut="TIMED_OUT", Aborted="ABORTED")
_EXECUTION = ("status", "error", "cause", "output", "input", "start", "end", "failedState")
_WORST = ("RUNNING", "FAILED", "TIMED_OUT", "ABORTED")  # a state's status, by precedence
_CAN_CATCH = ("Task", "Map", "Parallel")
_MAX_DEPTH = 64  # how far up a failure's origin is looked for (bounds odd histories)

_Index = dict[Any, dict[int, None]]  # key -> step ids, in insertion order (O(1) removal)


def parse_json_text(value: Any) -> Any:
    """``value`` parsed as JSON when it is a string holding JSON text, else ``value`` itself."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def progress(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The statuses of states, the steps and the execution summary of a history.

    Returns ``{"states": {name: {"status", "entered", "running"}}, "steps": [...],
    "execution": {...}}``; a state never entered is absent from ``states`` (NOT_STARTED).
    """
    reader = _Reader()
    items = events if isinstance(events, list) else []
    ids = [event.get("id") for event in items[:1] + items[-1:] if isinstance(event, dict)]
    if len(ids) == 2 and _is_int(ids[0]) and _is_int(ids[1]) and ids[0] > ids[1]:
        items = items[::-1]  # listed newest first (GetExecutionHistory reverseOrder)
    # Chains are read only when they branch somewhere: a history written with each event's
    # previousEventId the one before (older stores, hand-made ones) says nothing of threads.
    reader.causal = any(
        isinstance(event, dict)
        and _is_int(event.get("id"))
        and _is_int(event.get("previousEventId"))
        and event["previousEventId"] != event["id"] - 1
        for event in items
    )
    for position, event in enumerate(items):
        following = items[position + 1] if position + 1 < len(items) else None
        reader.read(position, event, following)
    return reader.result()


@dataclass(slots=True, eq=False)
class _Step:
    id: int
    name: str
    type: str
    entered_id: int
    start: Any
    started_at: float | None
    input: Any
    parent: _Step | None
    iteration: int | None
    status: str | None = None  # None while open
    pending: bool = False  # a failure not (yet) retried, caught or closed
    exited_id: int | None = None
    end: Any = None
    ended_at: float | None = None
    output: Any = None
    assigned: dict[str, Any] | None = None
    task: dict[str, Any] | None = None
    family: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    failed_at: float | None = None
    call_keys: list[Any] = field(default_factory=list)
    iterations: dict[int, None] = field(default_factory=dict)  # Map: open iteration indexes
    children: dict[int, None] = field(default_factory=dict)  # open steps inside it


class _Reader:
    def __init__(self) -> None:
        self.steps: list[_Step] = []
        self.by_name: _Index = {}
        self.by_type: _Index = {}
        self.fan_outs: dict[int, None] = {}  # Map/Parallel steps whose children run
        self.fresh: dict[int, None] = {}  # Task steps entered, not yet scheduled
        self.retrying: dict[int, None] = {}  # failed steps a retry may schedule again
        self.calls: _Index = {}  # outstanding task calls by family, resource and state name
        self.prev: _Step | None = None  # the step the previous event went to
        self.origin: _Step | None = None  # where the latest failure started
        self.event_id = 0
        self.timestamp: Any = None
        self.at: float | None = None
        self.execution: dict[str, Any] = {**dict.fromkeys(_EXECUTION), "status": "RUNNING"}
        # The Map iteration each event happened in, read from the previousEventId chains
        # (AWS's, and this engine's since it chains each iteration's events): event id ->
        # (iteration index, the enclosing context) or None outside any iteration.
        self.contexts: dict[int, tuple[int, Any] | None] = {}
        self.context: tuple[int, Any] | None = None
        self.causal = False  # the history's previousEventId chains branch (set by progress)
        self.redriven_at = 0  # steps before the last ExecutionRedriven

    # -- reading events ----------------------------------------------------------------------

    def read(self, position: int, event: Any, following: Any) -> None:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self.prev = None
            return
        event_id = event.get("id")
        # Corpus events carry no ids: the position gives the id AWS would have given.
        self.event_id = event_id if _is_int(event_id) else position + 1
        self.timestamp = _shown(event.get("timestamp"))
        self.at = _seconds(event.get("timestamp"))
        details = _details(event)
        self.follow_chain(event, details)
        self.prev = self.apply(event["type"], details, following)

    def follow_chain(self, event: dict[str, Any], details: dict[str, Any]) -> None:
        """The iteration this event belongs to, from the event its previousEventId names."""
        before_id = event.get("previousEventId")
        if not self.causal or not _is_int(before_id):
            self.context = None
            return
        before = self.contexts.get(before_id)
        kind = event["type"]
        if kind == "MapIterationStarted" and _is_int(details.get("index")):
            context: tuple[int, Any] | None = (details["index"], before)
        elif kind.startswith("MapIteration"):
            context = before[1] if before is not None else None  # back out of the iteration
        else:
            context = before
        self.contexts[self.event_id] = context
        self.context = context

    def apply(self, kind: str, details: dict[str, Any], following: Any) -> _Step | None:
        if kind.endswith("StateEntered"):
            return self.entered(kind.removesuffix("StateEntered"), details)
        if kind.endswith("StateExited"):
            return self.exited(details)
        if kind.endswith("StateAborted"):
            return self.aborted(kind.removesuffix("StateAborted"))
        for fan in _FAN_OUT:
            if kind in (fan + "StateStarted", fan + "StateSucceeded", fan + "StateFailed"):
                return self.fan_out(fan, kind.removeprefix(fan + "State"))
        if kind.startswith("MapIteration"):
            return self.iteration(kind.removeprefix("MapIteration"), details)
        for prefix, family in _FAMILIES.items():
            suffix = kind.removeprefix(prefix)
            if suffix != kind and suffix in _TASK_EVENTS:
                return self.task_event(family, suffix, details, following)
        if kind == "EvaluationFailed":
            step = self.latest(self.by_name.get(_name(details, "state")))
            if step is not None:
                self.failed(step, details, direct=True)
            return step
        if kind == "ExecutionStarted":
            self.execution["input"] = parse_json_text(details.get("input"))
            self.execution["start"] = self.timestamp
        elif kind == "ExecutionRedriven":
            # It runs again from where it ended: the statuses before no longer stand where a
            # state runs again.
            self.execution.update(
                status="RUNNING", error=None, cause=None, end=None, failedState=None
            )
            self.redriven_at = len(self.steps)
            self.origin = None
        elif kind.removeprefix("Execution") in _ENDS and self.execution["status"] == "RUNNING":
            self.ended(_ENDS[kind.removeprefix("Execution")], details)
        return None

    # -- states ------------------------------------------------------------------------------

    def entered(self, state_type: str, details: dict[str, Any]) -> _Step:
        parent = self.latest(self.fan_outs)
        iteration = None
        if self.causal:
            iteration = self.context[0] if self.context is not None else None
        elif parent is not None and parent.type == "Map" and len(parent.iterations) == 1:
            iteration = next(iter(parent.iterations))
        step = _Step(
            id=len(self.steps),
            name=_name(details, "name"),
            type=state_type,
            entered_id=self.event_id,
            start=self.timestamp,
            started_at=self.at,
            input=parse_json_text(details.get("input")),
            parent=parent,
            iteration=iteration,
        )
        self.steps.append(step)
        _add(self.by_name, step.name, step.id)
        _add(self.by_type, state_type, step.id)
        if parent is not None:
            parent.children[step.id] = None
        if state_type == "Task":
            self.fresh[step.id] = None
        elif state_type in _FAN_OUT:
            self.fan_outs[step.id] = None
        elif state_type == "Fail":  # a Fail state fails as it is entered
            self.fail(step)
        return step

    def exited(self, details: dict[str, Any]) -> _Step | None:
        bucket = self.by_name.get(_name(details, "name"))
        if not bucket:
            return None
        prev = self.prev
        step = prev if prev is not None and prev.id in bucket else self.steps[next(iter(bucket))]
        step.exited_id, step.end, step.ended_at = self.event_id, self.timestamp, self.at
        step.output = parse_json_text(details.get("output"))
        assigned = details.get("assignedVariables")
        if isinstance(assigned, dict):
            step.assigned = {str(k): parse_json_text(v) for k, v in assigned.items()}
        # A failed Task/Map/Parallel that still exits had its failure caught.
        caught = step.pending and step.type in _CAN_CATCH
        self.close(step, "CAUGHT_ERROR" if caught else "SUCCEEDED")
        return step

    def aborted(self, state_type: str) -> _Step | None:
        bucket = self.by_type.get(state_type) or {}
        # AWS also aborts the step whose failure it propagates: prefer one that did not fail.
        step = next((s for s in self._newest(bucket) if not s.pending), self.latest(bucket))
        if step is not None:
            self.abort_children(step)
            self.close(step, "FAILED" if step.pending else "ABORTED")
        return step

    def fan_out(self, fan: str, what: str) -> _Step | None:
        prev = self.prev
        if what == "Started":
            if prev is not None and prev.type == fan and prev.status is None:
                step: _Step | None = prev
            else:
                retried = (self.steps[i] for i in self.retrying)
                step = next((s for s in retried if s.type == fan), None)
                step = step or self.latest(self.by_type.get(fan))
            if step is not None:
                self.scheduled(step)
                self.fan_outs.pop(step.id, None)
                self.fan_outs[step.id] = None  # innermost again
            return step
        # The one the previous event was in (or its parent), else the innermost running one.
        near = (prev, prev.parent) if prev is not None else ()
        step = next((s for s in near if s and s.type == fan and s.id in self.fan_outs), None)
        step = step or next((s for s in self._newest(self.fan_outs) if s.type == fan), None)
        step = step or self.latest(self.by_type.get(fan))
        if step is None:
            return None
        self.fan_outs.pop(step.id, None)
        step.iterations.clear()
        if what == "Failed":
            if prev is not None and prev.status is None and _inside(prev, step):
                self.fail(prev)  # the branch state whose failure this is
            self.abort_children(step)
            if not step.pending:  # else its own failure (EvaluationFailed) is recorded
                self.failed(step, {}, direct=False)
        return step

    def iteration(self, what: str, details: dict[str, Any]) -> _Step | None:
        index = details.get("index")
        if not _is_int(index):
            return None
        maps = self._newest(self.by_name.get(_name(details, "name")) or {})
        if what == "Started":
            step = next((s for s in maps if s.type == "Map" and s.id in self.fan_outs), None)
            if step is not None:
                step.iterations[index] = None
            return step
        step = next((s for s in maps if index in s.iterations), None)
        if step is None:
            return None
        del step.iterations[index]
        prev = self.prev
        if what == "Failed" and prev is not None and prev.status is None and _inside(prev, step):
            self.fail(prev)  # the iteration's failing state (aborted ones get their own event)
        return step

    # -- tasks -------------------------------------------------------------------------------

    def task_event(
        self, family: str, what: str, details: dict[str, Any], following: Any
    ) -> _Step | None:
        if what in ("Scheduled", "ScheduleFailed"):
            step = self.schedule_target(family, details)
            if step is None:
                return None
            self.scheduled(step)
            self.fresh.pop(step.id, None)
            resource = details.get("resource")
            resource_type = details.get("resourceType") or (None if family == "task" else family)
            payload = details.get("parameters" if family == "task" else "input")
            step.family = family
            step.task = {
                "resourceType": resource_type,
                "resource": resource,
                "parameters": parse_json_text(payload),
                "result": None,
                "error": None,
                "cause": None,
            }
            if what == "ScheduleFailed":
                self.failed(step, details, direct=True)
                return step
            step.call_keys = [(family,), (family, "@", step.name)]
            if details.get("resourceType") is not None:
                step.call_keys.append((family, _key(details)))
            for key in step.call_keys:
                _add(self.calls, key, step.id)
            return step
        step = self.call_of(family, details, following)
        if step is None or what in ("Started", "Submitted"):
            return step
        self.drop_call(step)
        if what == "Succeeded":
            if step.task is not None:
                step.task["result"] = parse_json_text(details.get("output"))
        else:
            self.failed(step, details, direct=True)
        return step

    def schedule_target(self, family: str, details: dict[str, Any]) -> _Step | None:
        prev = self.prev
        if prev is not None and prev.id in self.fresh:
            return prev
        first = None  # a retry: the oldest failed step of this family, its resource first
        for step_id in self.retrying:
            step = self.steps[step_id]
            if step.family == family:
                if step.task and step.task.get("resource") == details.get("resource"):
                    return step
                first = first or step
        return first or self.latest(self.fresh)

    def call_of(self, family: str, details: dict[str, Any], following: Any) -> _Step | None:
        """The step an outstanding call's event is for (see the module docstring)."""
        keyed = self.calls.get((family, _key(details))) if "resourceType" in details else None
        bucket = keyed or self.calls.get((family,))
        if not bucket:
            return None
        if len(bucket) > 1 and isinstance(following, dict):
            kind = following.get("type")
            if isinstance(kind, str) and kind.endswith("StateExited"):
                named = self.calls.get((family, "@", _name(_details(following), "name")))
                if named:
                    return self.steps[next(iter(named))]
        return self.steps[next(iter(bucket))]

    def drop_call(self, step: _Step) -> None:
        for key in step.call_keys:
            _discard(self.calls, key, step.id)
        step.call_keys = []

    # -- failures and closing ----------------------------------------------------------------

    def scheduled(self, step: _Step) -> None:
        """A (re)start of the step's work: a pending failure was retried."""
        last = step.attempts[-1] if step.pending and step.attempts else None
        if last is not None and step.failed_at is not None and self.at is not None:
            last["retryAfterMs"] = (self.at - step.failed_at) * 1000.0
        step.pending = False
        self.retrying.pop(step.id, None)

    def failed(self, step: _Step, details: dict[str, Any], *, direct: bool) -> None:
        """A failed attempt of ``step``; ``direct`` when it failed itself, not a child."""
        error, cause = details.get("error"), details.get("cause")
        origin = self.origin
        inner = not direct and origin is not None and _failed(origin) and _inside(origin, step)
        if inner and origin is not None and origin.attempts:
            # A Map/Parallel's failure event has no details: its child's error is the one.
            error, cause = origin.attempts[-1]["error"], origin.attempts[-1]["cause"]
        attempt = {"eventId": self.event_id, "error": error, "cause": cause, "at": self.timestamp}
        step.attempts.append({**attempt, "retryAfterMs": None})
        if step.task is not None:
            step.task["error"], step.task["cause"] = error, cause
        step.pending, step.failed_at = True, self.at
        self.retrying[step.id] = None
        if not inner:
            self.origin = step

    def fail(self, step: _Step) -> None:
        """``step`` is where a failure happened and went on: it ends FAILED."""
        if not step.pending:
            step.pending = True
            self.origin = step
        self.abort_children(step)
        self.close(step, "FAILED")

    def abort_children(self, step: _Step) -> None:
        """Close every open step inside ``step`` (iteratively: nesting may be deep)."""
        found, stack = [], [step]
        while stack:
            for child_id in stack.pop().children:
                child = self.steps[child_id]
                if child.status is None:
                    found.append(child)
                    stack.append(child)
        for child in reversed(found):
            self.close(child, "FAILED" if child.pending else "ABORTED")

    def close(self, step: _Step, status: str) -> None:
        step.status = status
        if step.end is None:  # it ended without exiting (failed, aborted): as this event did
            step.end, step.ended_at = self.timestamp, self.at
        _discard(self.by_name, step.name, step.id)
        _discard(self.by_type, step.type, step.id)
        for index in (self.fan_outs, self.fresh, self.retrying):
            index.pop(step.id, None)
        self.drop_call(step)
        if step.parent is not None:
            step.parent.children.pop(step.id, None)

    def ended(self, status: str, details: dict[str, Any]) -> None:
        prev = self.prev
        if status == "FAILED" and prev is not None and prev.status is None and not prev.pending:
            prev.pending = True  # it failed as it ran (ExecutionFailed right after it)
            self.origin = prev
        if status == "FAILED" and self.origin is not None and _failed(self.origin):
            self.execution["failedState"] = self.origin.name
        self.execution["status"], self.execution["end"] = status, self.timestamp
        self.close_open()
        if status == "SUCCEEDED":
            self.execution["output"] = parse_json_text(details.get("output"))
        else:
            self.execution["error"] = details.get("error")
            self.execution["cause"] = details.get("cause")

    # -- lookups and the result --------------------------------------------------------------

    def latest(self, bucket: dict[int, None] | None) -> _Step | None:
        return self.steps[next(reversed(bucket))] if bucket else None

    def _newest(self, bucket: dict[int, None]) -> Iterator[_Step]:
        return (self.steps[i] for i in reversed(bucket))

    def close_open(self) -> None:
        """Steps still open as the execution ended: failed if they had failed, else stopped
        with it (AWS's own histories sometimes leave out the exit of a state that succeeded)."""
        status = self.execution["status"]
        for step in (s for s in self.steps if s.status is None):
            if step.pending and status in ("FAILED", "SUCCEEDED"):
                self.close(step, "FAILED")
            else:
                self.close(step, {"FAILED": "ABORTED"}.get(status, status))

    def result(self) -> dict[str, Any]:
        if self.execution["status"] != "RUNNING":
            self.close_open()  # entered after the end (an odd history): not running either
        states: dict[str, dict[str, Any]] = {}
        seen: dict[str, set[str]] = {}
        steps = []
        for step in self.steps:
            status = step.status or "RUNNING"
            entry = states.setdefault(step.name, {"status": status, "entered": 0, "running": 0})
            entry["entered"] += 1
            entry["running"] += status == "RUNNING"
            seen.setdefault(step.name, set()).add(status)
            entry["status"] = status  # the last step's, refined below
            steps.append(_shape(step, status))
        # A state run again after a redrive shows how it ran since.
        again: dict[str, set[str]] = {}
        for step in self.steps[self.redriven_at :] if self.redriven_at else ():
            again.setdefault(step.name, set()).add(step.status or "RUNNING")
        for name, entry in states.items():
            last = "CAUGHT_ERROR" if entry["status"] == "CAUGHT_ERROR" else "SUCCEEDED"
            entry["status"] = next((s for s in _WORST if s in again.get(name, seen[name])), last)
        self.execution["transitions"] = len(self.steps)
        return {"states": states, "steps": steps, "execution": self.execution}


def _shape(step: _Step, status: str) -> dict[str, Any]:
    duration = None
    if step.started_at is not None and step.ended_at is not None:
        duration = (step.ended_at - step.started_at) * 1000.0
    return {
        "id": step.id,
        "name": step.name,
        "type": step.type,
        "status": status,
        "enteredEventId": step.entered_id,
        "exitedEventId": step.exited_id,
        "start": step.start,
        "end": step.end,
        "durationMs": duration,
        "input": step.input,
        "output": step.output,
        "assignedVariables": step.assigned,
        "task": step.task,
        "attempts": step.attempts,
        "iteration": step.iteration,
        "branch": None,
        "parent": step.parent.id if step.parent is not None else None,
    }


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if isinstance(key, str) and key.endswith("EventDetails") and isinstance(value, dict):
            return value
    value = event.get("details")
    return value if isinstance(value, dict) else {}


def _name(details: dict[str, Any], key: str) -> str:
    value = details.get(key)
    return value if isinstance(value, str) else "" if value is None else str(value)


def _failed(step: _Step) -> bool:
    return step.pending and step.status in (None, "FAILED")


def _inside(step: _Step, ancestor: _Step) -> bool:
    parent = step.parent
    for _ in range(_MAX_DEPTH):
        if parent is None or parent is ancestor:
            return parent is ancestor
        parent = parent.parent
    return False


def _key(details: dict[str, Any]) -> str:
    return f"{details.get('resourceType')}:{details.get('resource')}"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _add(index: _Index, key: Any, step_id: int) -> None:
    index.setdefault(key, {})[step_id] = None


def _discard(index: _Index, key: Any, step_id: int) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.pop(step_id, None)
        if not bucket:
            del index[key]


def _shown(value: Any) -> Any:
    """A timestamp as given; a datetime (the engine's own events) as ISO-8601 text."""
    return value.isoformat() if isinstance(value, datetime) else value


def _seconds(value: Any) -> float | None:
    """Epoch seconds of an epoch number, ISO-8601 text or datetime; None if it is none."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        moment = (
            value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
        )
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
