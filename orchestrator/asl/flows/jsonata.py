"""JSONata's data flow: every field may be a ``{% %}`` expression over ``$states`` and the
variables. A Task or Parallel sends its ``Arguments`` (default: the input), a Map iterates
over ``Items`` (default: the input); ``Output`` (default: the input for Pass, Choice, Wait and
Succeed, ``$states.result`` for Task, Parallel and Map, ``$states.errorOutput`` in a catcher)
is the output and ``Assign`` sets variables, both evaluated with the variables as they were."""

from __future__ import annotations

from typing import Any

from orchestrator.asl import errors, runtime_fields
from orchestrator.asl.bounds import MAX_TASK_SECONDS, MAX_WAIT_SECONDS
from orchestrator.asl.bounds import text as json_text
from orchestrator.asl.definition import (
    AnyState,
    Catcher,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    Seconds,
    TaskState,
    WaitState,
)
from orchestrator.asl.errors import StatesError
from orchestrator.asl.execution import Thread
from orchestrator.asl.flows.host import Host, TaskCall
from orchestrator.asl.jsonata import QUERY_EVALUATION_ERROR, JsonataError, unexpected_type
from orchestrator.asl.loader import parse_timestamp

# The most a Map's MaxConcurrency or ToleratedFailureCount may be (as the JSONPath forms).
MAX_COUNT = runtime_fields.MAX_COUNT


class JsonataFlow:
    """The JSONata :class:`~orchestrator.asl.flows.host.DataFlow`."""

    def exit(
        self, host: Host, thread: Thread, state: AnyState, data: Any
    ) -> tuple[str | None, Any]:
        assign, output = state.assign, state.output
        following: str | None = getattr(state, "next", None)
        context = None
        if isinstance(state, ChoiceState):
            context = host.context(thread, state)
            for branch in state.branches:
                if branch.rule.evaluate(data, context):
                    following, assign = branch.next, branch.assign
                    output = branch.output if branch.output is not None else state.output
                    break
            else:
                if state.default is None:
                    raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
                following = state.default
        names = _names(host, thread, state, data, (assign, output), context=context)
        return following, finish(host, thread, assign, output, names, data)

    def wait_seconds(self, host: Host, thread: Thread, state: WaitState, data: Any) -> float:
        fields = (state.seconds_expression, state.timestamp_expression)
        names = _names(host, thread, state, data, fields)
        if state.seconds_expression is not None:
            value = state.seconds_expression.evaluate(names, location="Seconds")
            if not _integer(value) or value < 0:
                raise unexpected_type(state.seconds_expression.text, "Seconds", "integer", value)
            return float(min(value, MAX_WAIT_SECONDS))
        if state.timestamp_expression is not None:
            value = state.timestamp_expression.evaluate(names, location="Timestamp")
            if not isinstance(value, str):
                raise unexpected_type(
                    state.timestamp_expression.text, "Timestamp", "timestamp string", value
                )
            moment = parse_timestamp(value)
            if moment is None:
                raise StatesError(
                    QUERY_EVALUATION_ERROR,
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset"
                    f" date-time format string: {value}",
                )
            return max((moment - host.now).total_seconds(), 0.0)
        return runtime_fields.wait_seconds(state, {}, host.now)

    def fail_fields(
        self, host: Host, thread: Thread, state: FailState, data: Any
    ) -> tuple[str | None, str | None]:
        names = _names(host, thread, state, data, (state.error_expression, state.cause_expression))
        return (
            _text_field(host, state.error_expression, names, "Error", state.error),
            _text_field(host, state.cause_expression, names, "Cause", state.cause),
        )

    def task_call(self, host: Host, thread: Thread, state: TaskState) -> TaskCall:
        fields = (state.arguments, state.credentials, *_expressions(state.timeout, state.heartbeat))
        names = _names(host, thread, state, thread.input, fields)
        arguments = (
            thread.input
            if state.arguments is None
            else state.arguments.render(
                names, rng=_rng(host, state.arguments), now=host.now, field="Arguments"
            )
        )
        credentials = (
            state.credentials.render(
                names, rng=_rng(host, state.credentials), now=host.now, field="Credentials"
            )
            if state.credentials is not None
            else None
        )
        return TaskCall(
            arguments,
            _seconds(host, state.timeout, "TimeoutSeconds", names),
            _seconds(host, state.heartbeat, "HeartbeatSeconds", names),
            credentials,
        )

    def fan_out_input(
        self, host: Host, thread: Thread, state: ParallelState | MapState, data: Any
    ) -> Any:
        if isinstance(state, ParallelState) and state.arguments is not None:
            names = _names(host, thread, state, data, (state.arguments,))
            return state.arguments.render(
                names, rng=_rng(host, state.arguments), now=host.now, field="Arguments"
            )
        return data

    def map_items(self, host: Host, thread: Thread, state: MapState) -> list[Any]:
        if state.items is None:
            if not isinstance(thread.effective, list):
                raise StatesError(
                    QUERY_EVALUATION_ERROR,
                    f"Map state input must be an array but was: {json_text(thread.effective)}",
                )
            return thread.effective
        names = _names(host, thread, state, thread.effective, (state.items,))
        items = state.items.render(names, rng=_rng(host, state.items), now=host.now, field="Items")
        if not isinstance(items, list):
            text = state.items.expression.text if state.items.expression else json_text(items)
            raise unexpected_type(text, "Items", "array", items)
        return items

    def map_limits(
        self, host: Host, thread: Thread, state: MapState, count: int
    ) -> tuple[int, float | None]:
        names: dict[str, Any] | None = None

        def value(spec: Seconds | None, field: str, kind: str) -> Any:
            nonlocal names
            if spec is None:
                return None
            if spec.expression is None:
                return spec.value
            if names is None:
                fields = _expressions(
                    state.max_concurrency,
                    state.tolerated_failure_count,
                    state.tolerated_failure_percentage,
                )
                names = _names(host, thread, state, thread.effective, fields)
            found = spec.expression.evaluate(
                names, rng=_rng(host, spec.expression), now=host.now, location=field
            )
            number = _integer(found) if kind == "integer" else _number(found)
            if not number:
                raise unexpected_type(spec.expression.text, field, kind, found)
            return found

        concurrency = value(state.max_concurrency, "MaxConcurrency", "integer") or 0
        if not 0 <= concurrency <= MAX_COUNT:
            raise StatesError(
                QUERY_EVALUATION_ERROR, f"MaxConcurrency must be from 0 to {MAX_COUNT}."
            )
        tolerated: float | None = None
        tolerated_count = value(state.tolerated_failure_count, "ToleratedFailureCount", "integer")
        if tolerated_count is not None:
            if tolerated_count < 0:
                raise StatesError(
                    QUERY_EVALUATION_ERROR, "ToleratedFailureCount cannot be negative."
                )
            tolerated = float(tolerated_count)
        percentage = value(
            state.tolerated_failure_percentage, "ToleratedFailurePercentage", "number"
        )
        if percentage is not None:
            if not 0 <= percentage <= 100:
                raise StatesError(
                    QUERY_EVALUATION_ERROR, "ToleratedFailurePercentage must be between 0 and 100."
                )
            limit = count * float(percentage) / 100
            tolerated = limit if tolerated is None else min(tolerated, limit)
        return int(concurrency), tolerated

    def map_item(self, host: Host, thread: Thread, state: MapState, index: int, item: Any) -> Any:
        if state.item_selector is None:
            return item
        context = host.context(thread, state)
        context["Map"] = {"Item": {"Index": index, "Value": item}}
        fields = (state.item_selector,)
        names = _names(host, thread, state, thread.effective, fields, context=context)
        return state.item_selector.render(
            names, rng=_rng(host, state.item_selector), now=host.now, field="ItemSelector"
        )

    def reader_call(self, host: Host, thread: Thread, state: MapState) -> tuple[Any, Any]:
        assert state.distribution is not None and state.distribution.reader is not None
        reader = state.distribution.reader
        fields = _expressions(reader.max_items)
        names = _names(host, thread, state, thread.effective, (reader.arguments, *fields))
        arguments = (
            reader.arguments.render(
                names, rng=_rng(host, reader.arguments), now=host.now, field="ItemReader.Arguments"
            )
            if reader.arguments is not None
            else {}
        )
        return arguments, self._given(host, reader.max_items, "MaxItems", names)

    def writer_call(self, host: Host, thread: Thread, state: MapState) -> Any:
        assert state.distribution is not None and state.distribution.writer is not None
        arguments = state.distribution.writer.arguments
        names = _names(host, thread, state, thread.effective, (arguments,))
        return arguments.render(
            names, rng=_rng(host, arguments), now=host.now, field="ResultWriter.Arguments"
        )

    def batcher_fields(self, host: Host, thread: Thread, state: MapState) -> tuple[Any, Any, Any]:
        assert state.distribution is not None and state.distribution.batcher is not None
        batcher = state.distribution.batcher
        fields = _expressions(batcher.max_items, batcher.max_bytes)
        names = _names(host, thread, state, thread.effective, (batcher.batch_input, *fields))
        batch_input = (
            batcher.batch_input.render(
                names, rng=_rng(host, batcher.batch_input), now=host.now, field="BatchInput"
            )
            if batcher.batch_input is not None
            else None
        )
        return (
            self._given(host, batcher.max_items, "MaxItemsPerBatch", names),
            self._given(host, batcher.max_bytes, "MaxInputBytesPerBatch", names),
            batch_input,
        )

    def _given(self, host: Host, spec: Seconds | None, field: str, names: dict[str, Any]) -> Any:
        """A count as given: its value, or what its expression evaluates to."""
        if spec is None:
            return None
        if spec.expression is None:
            return spec.value
        found = spec.expression.evaluate(
            names, rng=_rng(host, spec.expression), now=host.now, location=field
        )
        return int(found) if isinstance(found, float) and found.is_integer() else found

    def result(
        self,
        host: Host,
        thread: Thread,
        state: TaskState | ParallelState | MapState,
        result: Any,
    ) -> Any:
        fields = (state.assign, state.output)
        names = _names(host, thread, state, thread.input, fields, result=result)
        return finish(host, thread, state.assign, state.output, names, result)

    def caught(
        self,
        host: Host,
        thread: Thread,
        state: TaskState | ParallelState | MapState,
        catcher: Catcher,
        error_output: Any,
    ) -> Any:
        fields = (catcher.assign, catcher.output)
        names = _names(host, thread, state, thread.input, fields, error_output=error_output)
        return finish(host, thread, catcher.assign, catcher.output, names, error_output)


_UNSET: Any = object()


def _expressions(*specs: Seconds | None) -> tuple[Any, ...]:
    return tuple(spec.expression for spec in specs if spec is not None)


def _names(
    host: Host,
    thread: Thread,
    state: AnyState,
    data: Any,
    fields: tuple[Any, ...],
    *,
    result: Any = _UNSET,
    error_output: Any = _UNSET,
    context: Any = None,
) -> dict[str, Any]:
    """The bindings ``fields`` (compiled templates or expressions, or None) are evaluated
    with: ``$states`` (``input``, ``result`` or ``errorOutput`` when given, ``context`` only
    when a field reads it) and the variables they read."""
    members: set[str] | None = set()
    wanted: set[str] = set()
    for field in fields:
        if field is None:
            continue
        wanted |= field.names_read
        if members is not None:
            members = None if field.states_read is None else members | field.states_read
    states: dict[str, Any] = {"input": data}
    if result is not _UNSET:
        states["result"] = result
    if error_output is not _UNSET:
        states["errorOutput"] = error_output
    if members is None or "context" in members:
        states["context"] = dict(context if context is not None else host.context(thread, state))
    names: dict[str, Any] = {"states": states}
    if wanted:
        variables = host.variables(thread)
        names.update((name, variables[name]) for name in wanted if name in variables)
    return names


def finish(
    host: Host, thread: Thread, assign: Any, output: Any, names: dict[str, Any], default: Any
) -> Any:
    """Evaluate ``Assign`` (set as the state exits) and ``Output`` (else ``default``), both
    with the variables as they were."""
    if assign is not None:
        values = assign.render(names, rng=_rng(host, assign), now=host.now, field="Assign")
        if isinstance(values, dict) and values:
            host.assigned[thread.id] = values
    if output is None:
        return default
    return output.render(names, rng=_rng(host, output), now=host.now, field="Output")


def _text_field(
    host: Host, expression: Any, names: dict[str, Any], field: str, plain: str | None
) -> str | None:
    """A Fail state's Error or Cause: the expression's string, else the plain value."""
    if expression is None:
        return plain
    value = expression.evaluate(names, rng=_rng(host, expression), now=host.now, location=field)
    if not isinstance(value, str):
        raise unexpected_type(expression.text, field, "string", value)
    return value


def _seconds(host: Host, spec: Seconds | None, field: str, names: dict[str, Any]) -> int | None:
    """TimeoutSeconds/HeartbeatSeconds: the number, or its expression's (1..99999999)."""
    if spec is None:
        return None
    if spec.expression is None:
        return spec.value
    value = spec.expression.evaluate(
        names, rng=_rng(host, spec.expression), now=host.now, location=field
    )
    if not _integer(value) or not 0 < value <= MAX_TASK_SECONDS:
        raise unexpected_type(spec.expression.text, field, "integer", value)
    return int(value)


def _rng(host: Host, compiled: Any) -> Any:
    """A generator for an evaluation that may draw randomness; None for one that cannot."""
    return host.draw() if compiled.uses_random else None


def _integer(value: Any) -> bool:
    if isinstance(value, float) and value.is_integer():
        return True  # JSONata numbers are doubles: 2 may come back as 2.0
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


JSONATA = JsonataFlow()

__all__ = ["JSONATA", "JsonataError", "JsonataFlow", "finish"]
