"""Task tokens cannot be guessed from one another and never show the execution's secret;
tokens of the old form keep working; callbacks (SendTaskSuccess/Failure/Heartbeat) apply
only to ``.waitForTaskToken`` tasks, as on AWS."""

from __future__ import annotations

import json
import re
from typing import Any

from orchestrator.asl import interpreter, tokens
from orchestrator.asl.execution import ExecutionState
from orchestrator.asl.pmap import PMap
from tests.asl.bounds_support import LAMBDA, SECRET, T0, machine, run_steps, start

TOKEN = re.compile(r"^[0-9a-f]{32}\.\d+$")  # the shape the API accepts


def dispatches(step: interpreter.Step) -> list[interpreter.DispatchTask]:
    return [c for c in step.commands if isinstance(c, interpreter.DispatchTask)]


def test_tokens_have_the_old_shape_and_are_not_derivable_from_one_another() -> None:
    first, second = tokens.task_token(SECRET, 1), tokens.task_token(SECRET, 2)
    assert TOKEN.match(first) and TOKEN.match(second)
    assert first.split(".")[0] != second.split(".")[0]
    assert second != first.split(".")[0] + ".2"  # the old rule: prefix, then the next number
    assert SECRET not in first and tokens.task_token("other", 1) != first
    assert tokens.task_token(SECRET, 1) == first  # pure: the same every time


def test_the_secret_appears_in_no_token_context_history_output_or_timer() -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": "F",
                    "Payload": {"ctx.$": "$$", "id.$": "States.UUID()"},
                },
                "TimeoutSeconds": 60,
                "Next": "P",
            },
            "P": {"Type": "Pass", "Parameters": {"ctx.$": "$$"}, "End": True},
        }
    )
    first = start(m, {"x": 1})
    (dispatch,) = dispatches(first)
    assert TOKEN.match(dispatch.token)
    assert dispatch.payload["ctx"]["Task"]["Token"] == dispatch.token
    event = interpreter.TaskSucceeded(dispatch.token, 0, {"ok": True}, T0, callback=True)
    done = interpreter.step(m, first.state, event)
    assert done.state.status == "SUCCEEDED"
    seen = json.dumps(
        {
            "history": [e.to_aws() for e in first.history + done.history],
            "commands": [repr(c) for c in first.commands + done.commands],
            "output": done.state.output,
            "timers": list(first.state.timers),
        },
        default=str,
    )
    assert SECRET not in seen


def test_a_token_of_the_old_form_still_completes_its_task() -> None:
    m = machine({"T": {"Type": "Task", "Resource": LAMBDA + "F", "End": True}})
    first = start(m, {})
    (dispatch,) = dispatches(first)
    old = f"{SECRET}.1"  # how tokens were made before: the secret, a dot, the sequence number
    thread_id = first.state.tokens[dispatch.token]
    thread = first.state.threads[thread_id].copy()
    thread.token = old
    stored = first.state.model_copy(
        update={
            "tokens": PMap({old: thread_id}),
            "threads": first.state.threads.set(thread_id, thread),
        }
    )
    stored = ExecutionState.model_validate_json(stored.model_dump_json())  # as the store has it
    assert interpreter.step(m, stored, interpreter.TaskSucceeded(dispatch.token, 0, {}, T0)).ignored
    done = interpreter.step(m, stored, interpreter.TaskSucceeded(old, 0, {"v": 1}, T0))
    assert done.state.status == "SUCCEEDED" and done.state.output == {"v": 1}


# -- callbacks only where AWS takes them --------------------------------------------------------


def plain_task(**extra: Any) -> Any:
    return machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "HeartbeatSeconds": 30,
                **extra,
                "End": True,
            }
        }
    )


def test_callbacks_do_not_apply_to_a_plain_lambda_task() -> None:
    m = plain_task()
    first = start(m, {})
    (dispatch,) = dispatches(first)
    for event in (
        interpreter.TaskSucceeded(dispatch.token, 0, {"forged": True}, T0, callback=True),
        interpreter.TaskFailed(dispatch.token, 0, "Forged", "no", T0, callback=True),
        interpreter.TaskHeartbeat(dispatch.token, T0),
    ):
        step = interpreter.step(m, first.state, event)
        assert step.ignored and step.state == first.state and not step.commands
    # The function's own result completes it.
    done = interpreter.step(
        m, first.state, interpreter.TaskSucceeded(dispatch.token, 0, {"v": 2}, T0)
    )
    assert done.state.output == {"v": 2}


def test_callbacks_and_heartbeats_apply_to_a_wait_for_task_token_task() -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "F", "Payload": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 30,
                "End": True,
            }
        }
    )
    first = start(m, {})
    (dispatch,) = dispatches(first)
    returned = interpreter.TaskSucceeded(dispatch.token, 0, {"early": True}, T0)
    assert interpreter.step(m, first.state, returned).ignored  # the function's return: no
    beat = interpreter.step(m, first.state, interpreter.TaskHeartbeat(dispatch.token, T0))
    assert not beat.ignored
    assert any(isinstance(c, interpreter.StartTimer) for c in beat.commands)
    callback = interpreter.TaskSucceeded(dispatch.token, 0, {"approved": True}, T0, callback=True)
    done = interpreter.step(m, beat.state, callback)
    assert done.state.status == "SUCCEEDED" and done.state.output == {"approved": True}


def test_a_wait_for_task_token_task_may_be_failed_by_callback() -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "F", "Payload": {}},
                "End": True,
            }
        }
    )
    run = run_steps(m, {}, {"F": lambda event: None}, max_steps=2)  # it returns; no callback
    assert run.state.status == "RUNNING"
    (token,) = run.state.tokens
    failed = interpreter.step(
        m, run.state, interpreter.TaskFailed(token, 0, "Rejected", "no", T0, callback=True)
    )
    assert (failed.state.status, failed.state.error) == ("FAILED", "Rejected")
