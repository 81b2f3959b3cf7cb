"""An execution's history as a person reads it: one row per step, readable at 80 columns.

AWS's history is a list of events (``TaskStateEntered``, ``LambdaFunctionScheduled``,
``LambdaFunctionFailed``, ...). Here the events of each state visit fold into one step:
its state, type, status and duration, how many attempts its Retry took, and the errors on
the lines below it. The steps of Parallel branches and Map iterations are indented under
their state. Pure: events in, text out.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The state types whose steps hold other steps (branches, iterations).
_CONTAINERS = {"Parallel", "Map"}
# Where a failed attempt or a failed container reports its error.
_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")
_SCHEDULED = {"LambdaFunctionScheduled", "TaskScheduled"}
# A cause longer than this is cut in the table (the whole text is in ``--json``).
MAX_CAUSE_CHARS = 400


@dataclass
class Step:
    """One visit of a state: from its ``...StateEntered`` event to its ``...StateExited``."""

    event_id: int
    name: str
    type: str
    depth: int
    entered: datetime
    exited: datetime | None = None
    input: str | None = None
    output: str | None = None
    attempts: int = 0
    iterations: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    # Whether the latest attempt failed: a step that exits after one was caught (Catch).
    failing: bool = False

    @property
    def open(self) -> bool:
        return self.exited is None


@dataclass
class ExecutionView:
    """The execution's own start and end, and its steps in the order they began."""

    steps: list[Step]
    started: datetime | None = None
    ended: datetime | None = None
    status: str = "RUNNING"
    error: str | None = None
    cause: str | None = None


_ENDINGS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


def fold(events: list[dict[str, Any]]) -> ExecutionView:
    """Group AWS history events into steps."""
    view = ExecutionView(steps=[])
    step_of: dict[int, Step] = {}  # event id -> the step it belongs to
    # The steps not exited yet, in the order they began: a few, where the steps of a long
    # history number thousands (scanning all of them for each event took seconds).
    open_steps: list[Step] = []
    for event in events:
        kind = str(event.get("type", ""))
        when = _timestamp(event.get("timestamp"))
        details = _details(event)
        if kind == "ExecutionStarted":
            view.started = when
        elif kind in _ENDINGS:
            view.ended, view.status = when, _ENDINGS[kind]
            view.error, view.cause = details.get("error"), details.get("cause")
        elif kind.endswith("StateEntered"):
            step = Step(
                event_id=int(event.get("id", 0)),
                name=str(details.get("name", "")),
                type=kind.removesuffix("StateEntered"),
                depth=sum(1 for s in open_steps if s.type in _CONTAINERS),
                entered=when,
                input=details.get("input"),
            )
            view.steps.append(step)
            open_steps.append(step)
            step_of[step.event_id] = step
        elif kind.endswith("StateExited"):
            name = details.get("name")
            index = next(
                (i for i in reversed(range(len(open_steps))) if open_steps[i].name == name), None
            )
            if index is not None:
                exited = open_steps.pop(index)
                exited.exited, exited.output = when, details.get("output")
                step_of[int(event.get("id", 0))] = exited
        else:
            owner = _owner(event, open_steps, step_of)
            if owner is not None:
                step_of[int(event.get("id", 0))] = owner
                _note(owner, kind, details)
    return view


def _note(step: Step, kind: str, details: dict[str, Any]) -> None:
    """Count an attempt or an iteration, or record an error, of ``step``."""
    if kind in _SCHEDULED:
        step.attempts += 1
        step.failing = False
    elif kind.startswith("MapIteration"):
        step.iterations += kind == "MapIterationStarted"
    elif kind.endswith("Succeeded"):
        step.failing = False
    elif kind.endswith(_FAILURE_SUFFIXES):
        step.errors.append((str(details.get("error") or ""), str(details.get("cause") or "")))
        step.failing = True


def _owner(event: dict[str, Any], open_steps: list[Step], step_of: dict[int, Step]) -> Step | None:
    """The open step an event belongs to: that of its previous event when that step is still
    open, else the innermost open step."""
    previous = step_of.get(int(event.get("previousEventId", 0) or 0))
    if previous is not None and previous.open:
        return previous
    return open_steps[-1] if open_steps else None


def render(
    events: list[dict[str, Any]], *, name: str, with_io: bool = False, width: int = 80
) -> str:
    """The history as text: a summary line, then one row per step (errors and, with
    ``with_io``, inputs and outputs on the lines below it)."""
    view = fold(events)
    lines = [_summary(view, name)]
    if view.error or view.cause:
        lines += _indented(_error_text(view.error or "", view.cause or ""), 2, width)
    lines.append("")
    lines.append(f"{'ID':>4}  {'TYPE':<8}  {'STATUS':<9}  {'DURATION':>8}  {'TRIES':>5}  STATE")
    for step in view.steps:
        tries = str(step.attempts) if step.attempts > 1 else ""
        label = "  " * step.depth + step.name
        if step.iterations:
            label += f" ({step.iterations} iteration{'s' if step.iterations != 1 else ''})"
        lines.append(
            f"{step.event_id:>4}  {step.type[:8]:<8}  {_status(step, view):<9}"
            f"  {duration(step.entered, step.exited or view.ended):>8}  {tries:>5}  {label}"
        )
        indent = 6 + 2 * step.depth
        for error, cause in step.errors:
            lines += _indented(_error_text(error, cause), indent, width)
        if with_io:
            if step.input is not None:
                lines += _indented(f"in:  {step.input}", indent, width)
            if step.output is not None:
                lines += _indented(f"out: {step.output}", indent, width)
    return "\n".join(lines)


def _summary(view: ExecutionView, name: str) -> str:
    took = f" in {duration(view.started, view.ended)}" if view.started and view.ended else ""
    count = len(view.steps)
    return f"{name}: {view.status}{took}, {count} step{'s' if count != 1 else ''}"


def _status(step: Step, view: ExecutionView) -> str:
    if step.type == "Fail":
        return "failed"
    if step.exited is not None:
        return "caught" if step.failing else "succeeded"
    return {
        "RUNNING": "running",
        "FAILED": "failed",
        "TIMED_OUT": "timed out",
        "ABORTED": "aborted",
    }.get(view.status, "running")


def _error_text(error: str, cause: str) -> str:
    """``Error: cause``; a Lambda error's JSON cause shows as its ``errorMessage``."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        cause = parsed["errorMessage"]
    if len(cause) > MAX_CAUSE_CHARS:
        cause = cause[:MAX_CAUSE_CHARS] + "… (--json shows all)"
    if not error:
        return cause
    return f"{error}: {cause}" if cause else error


def _indented(text: str, indent: int, width: int) -> list[str]:
    if not text:
        return []
    pad = " " * indent
    return textwrap.wrap(
        text,
        width=max(width, indent + 20),
        initial_indent=pad,
        subsequent_indent=pad + "  ",
        break_long_words=True,
        replace_whitespace=True,
    )


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max((end - start).total_seconds(), 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}
