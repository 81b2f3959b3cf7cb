"""JSONPath's data flow: InputPath -> Parameters -> (task) -> ResultSelector -> ResultPath ->
OutputPath, ``Assign`` over the state's result, and the ``...Path`` fields read from the input."""

from __future__ import annotations

import random
from typing import Any

from orchestrator.asl import errors, runtime_fields
from orchestrator.asl.bounds import text as _text
from orchestrator.asl.definition import (
    AnyState,
    Catcher,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    Seconds,
    TaskState,
    WaitState,
)
from orchestrator.asl.errors import StatesError
from orchestrator.asl.execution import Thread
from orchestrator.asl.flows.host import Host, TaskCall
from orchestrator.asl.paths import Path, PathNotFound, PathWriteError, ReferencePath
from orchestrator.asl.runtime_fields import StateRuntimeError
from orchestrator.asl.templates import Template

# Handed to intrinsics that draw nothing (so no generator needs seeding).
_NO_DRAWS = random.Random(0)


def apply_result_path(path: ReferencePath | None, data: Any, result: Any) -> Any:
    """Apply ResultPath: null keeps the input, otherwise the result is placed into it."""
    if path is None:
        return data
    try:
        return path.write(data, result)
    except PathWriteError:
        raise StatesError(
            errors.RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ResultPath '{path.text}' to input '{_text(data)}'",
        ) from None


def assign(
    host: Host, thread: Thread, state: AnyState, template: Template | None, data: Any
) -> None:
    """Evaluate an ``Assign``: every value read from ``data`` (``$``) and the variables as they
    were before it (none from another); they are set as the state exits, so its own OutputPath
    still sees the old values (AWS's order)."""
    if template is None:
        return
    values = host.render(template, "Assign", data, thread, state)
    if isinstance(values, dict) and values:
        host.assigned[thread.id] = values


class JsonPathFlow:
    """The JSONPath :class:`~orchestrator.asl.flows.host.DataFlow`."""

    def exit(
        self, host: Host, thread: Thread, state: AnyState, data: Any
    ) -> tuple[str | None, Any]:
        effective = host.read(state.input_path, thread, state, data)
        following: str | None = None
        if isinstance(state, PassState):
            if state.parameters is not None:
                effective = host.render(state.parameters, "Parameters", effective, thread, state)
            result = state.result if state.has_result else effective
            assign(host, thread, state, state.assign, result)
            output = apply_result_path(state.result_path, data, result)
            following = state.next
        elif isinstance(state, ChoiceState):
            output, following = effective, self.choose(host, thread, state, effective)
        elif isinstance(state, WaitState):
            assign(host, thread, state, state.assign, effective)
            output, following = effective, state.next
        else:
            output = effective
        return following, host.read(state.output_path, thread, state, output)

    def choose(self, host: Host, thread: Thread, state: ChoiceState, data: Any) -> str:
        """The next state; the matching rule's Assign (the state's own for the Default) is
        applied to the state's input."""
        context = host.context(thread, state)
        for branch in state.branches:
            if branch.rule.evaluate(data, context):
                assign(host, thread, state, branch.assign, data)
                return branch.next
        if state.default is not None:
            assign(host, thread, state, state.assign, data)
            return state.default
        raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")

    def wait_seconds(self, host: Host, thread: Thread, state: WaitState, data: Any) -> float:
        effective = host.read(state.input_path, thread, state, data)
        return runtime_fields.wait_seconds(state, effective, host.now, host.variables(thread))

    def fail_fields(
        self, host: Host, thread: Thread, state: FailState, data: Any
    ) -> tuple[str | None, str | None]:
        error, cause = state.error, state.cause
        for field, source in (("ErrorPath", state.error_path), ("CausePath", state.cause_path)):
            if source is None:
                continue
            context = host.context(thread, state)
            if isinstance(source, Path):
                try:
                    value = source.read(source.root(data, context))
                except PathNotFound:
                    raise StateRuntimeError(
                        f"The JSONPath '{source.text}' specified for the field '{field}' could not"
                        f" be found in the input '{_text(data)}'"
                    ) from None
            else:
                rng = host.draw() if source.uses_random else _NO_DRAWS
                value = source.evaluate(data, context, rng, field=field)
            if not isinstance(value, str):
                raise StateRuntimeError(
                    f"The {field} field must select a string, got {_text(value)}"
                )
            if field == "ErrorPath":
                error = value
            else:
                cause = value
        return error, cause

    def task_call(self, host: Host, thread: Thread, state: TaskState) -> TaskCall:
        # InputPath and Parameters are evaluated for every attempt, as AWS does: a retry sees
        # its own $$.State.RetryCount.
        effective = host.read(state.input_path, thread, state, thread.input)
        if state.parameters is not None:
            effective = host.render(state.parameters, "Parameters", effective, thread, state)
        variables = host.variables(thread)
        return TaskCall(
            effective,
            runtime_fields.task_seconds(
                state.timeout, "TimeoutSecondsPath", thread.input, variables
            ),
            runtime_fields.task_seconds(
                state.heartbeat, "HeartbeatSecondsPath", thread.input, variables
            ),
            host.render(state.credentials, "Credentials", thread.input, thread, state)
            if state.credentials is not None
            else None,
        )

    def fan_out_input(
        self, host: Host, thread: Thread, state: ParallelState | MapState, data: Any
    ) -> Any:
        effective = host.read(state.input_path, thread, state, data)
        if isinstance(state, ParallelState) and state.parameters is not None:
            effective = host.render(state.parameters, "Parameters", effective, thread, state)
        return effective

    def map_items(self, host: Host, thread: Thread, state: MapState) -> list[Any]:
        try:
            items = host.select(state.items_path, thread, state, thread.effective)
        except PathNotFound as missing:
            raise StateRuntimeError(missing.describe(state.items_path.text)) from None
        if not isinstance(items, list):
            raise StateRuntimeError(
                f"Item paths must point to a JSON array: {state.items_path.text} == {_text(items)}"
            )
        return items

    def map_limits(
        self, host: Host, thread: Thread, state: MapState, count: int
    ) -> tuple[int, float | None]:
        variables = host.variables(thread)
        return (
            runtime_fields.map_concurrency(state, thread.effective, variables),
            runtime_fields.map_tolerance(state, thread.effective, count, variables),
        )

    def map_item(self, host: Host, thread: Thread, state: MapState, index: int, item: Any) -> Any:
        if state.item_selector is None:
            return item
        return host.render(
            state.item_selector,
            "ItemSelector",
            thread.effective,
            thread,
            state,
            map_item={"Index": index, "Value": item},
        )

    def reader_call(self, host: Host, thread: Thread, state: MapState) -> tuple[Any, Any]:
        assert state.distribution is not None and state.distribution.reader is not None
        reader = state.distribution.reader
        arguments = (
            host.render(reader.arguments, "ItemReader.Parameters", thread.effective, thread, state)
            if reader.arguments is not None
            else {}
        )
        return arguments, self._given(host, thread, reader.max_items)

    def writer_call(self, host: Host, thread: Thread, state: MapState) -> Any:
        assert state.distribution is not None and state.distribution.writer is not None
        writer = state.distribution.writer
        return host.render(
            writer.arguments, "ResultWriter.Parameters", thread.effective, thread, state
        )

    def batcher_fields(self, host: Host, thread: Thread, state: MapState) -> tuple[Any, Any, Any]:
        assert state.distribution is not None and state.distribution.batcher is not None
        batcher = state.distribution.batcher
        batch_input = (
            host.render(batcher.batch_input, "BatchInput", thread.effective, thread, state)
            if batcher.batch_input is not None
            else None
        )
        return (
            self._given(host, thread, batcher.max_items),
            self._given(host, thread, batcher.max_bytes),
            batch_input,
        )

    def _given(self, host: Host, thread: Thread, spec: Seconds | None) -> Any:
        """A count as given: its value, or what its Path reads (None when it reads nothing)."""
        if spec is None:
            return None
        if spec.path is None:
            return spec.value
        return runtime_fields.read_count(spec.path, thread.effective, host.variables(thread))

    def result(
        self,
        host: Host,
        thread: Thread,
        state: TaskState | ParallelState | MapState,
        result: Any,
    ) -> Any:
        if state.result_selector is not None:
            result = host.render(state.result_selector, "ResultSelector", result, thread, state)
        assign(host, thread, state, state.assign, result)
        output = apply_result_path(state.result_path, thread.input, result)
        return host.read(state.output_path, thread, state, output)

    def caught(
        self,
        host: Host,
        thread: Thread,
        state: TaskState | ParallelState | MapState,
        catcher: Catcher,
        error_output: Any,
    ) -> Any:
        assign(host, thread, state, catcher.assign, error_output)
        return apply_result_path(catcher.result_path, thread.input, error_output)


JSONPATH = JsonPathFlow()
