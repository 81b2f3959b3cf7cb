"""A task result costs a step the same whatever the number of Map items: the step changes a
few entries of the state's maps and shares the rest (it used to copy every thread, token and
result, 0.5 ms a step at 10,000 items)."""

from __future__ import annotations

import statistics
import time

from orchestrator.asl import interpreter
from orchestrator.asl.definition import StateMachine
from orchestrator.asl.execution import ExecutionState
from tests.asl.bounds_support import T0, start, task_map


def started(m: StateMachine, items: int) -> tuple[ExecutionState, list[interpreter.DispatchTask]]:
    """The state once every item's task is dispatched, and the dispatches."""
    step = start(m, {"items": list(range(items))})
    dispatched = [c for c in step.commands if isinstance(c, interpreter.DispatchTask)]
    while step.state.continue_timer is not None:
        step = interpreter.step(
            m, step.state, interpreter.TimerFired(step.state.continue_timer, T0)
        )
        dispatched += [c for c in step.commands if isinstance(c, interpreter.DispatchTask)]
    assert len(dispatched) == items
    return step.state, dispatched


def test_a_task_result_changes_a_few_entries_and_shares_the_rest() -> None:
    m = task_map()
    state, dispatched = started(m, 3000)
    result = interpreter.step(
        m, state, interpreter.TaskSucceeded(dispatched[10].token, 0, {"r": 1}, T0)
    )
    new = result.state
    changed, removed = new.threads.changes_from(state.threads)
    item = state.tokens[dispatched[10].token]
    assert changed == [0]  # the top-level thread, in the Map state: one more result
    assert removed == [item]  # the item's thread is done
    assert new.tokens.changes_from(state.tokens) == ([], [dispatched[10].token])
    shared = sum(a is b for a, b in zip(new.threads._root, state.threads._root, strict=True))
    assert shared >= 62  # of 64 root nodes: only those on the way to the two threads are new


def median_step_seconds(items: int, results: int = 150) -> float:
    m = task_map()
    state, dispatched = started(m, items)
    times = []
    for command in dispatched[:results]:
        event = interpreter.TaskSucceeded(command.token, 0, {"r": 1}, T0)
        began = time.perf_counter()
        state = interpreter.step(m, state, event).state
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def test_the_cost_of_a_task_result_does_not_grow_with_the_items() -> None:
    small, large = median_step_seconds(200), median_step_seconds(8000)
    # Copying the state's maps made this ratio about 20 (40 items to 1); it is now about 1.
    assert large < 3 * small, (small, large)
