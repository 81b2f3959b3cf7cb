"""Every wire parser takes any bytes: a message is parsed or refused with a ValueError (which
the services dead-letter with its text), never another exception, quickly, at any depth."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import messages
from messages import limits

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children),
    max_leaves=15,
)
FIELDS = st.sampled_from(
    ["taskToken", "status", "attempt", "output", "errorType", "version", "executionArn", "kind"]
)
SHAPED = st.dictionaries(FIELDS, JSON, max_size=6)
BODIES = (
    st.binary(max_size=300)
    | JSON.map(lambda v: json.dumps(v).encode())
    | SHAPED.map(lambda v: json.dumps(v).encode())
    | st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n)
    | st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
)
HEADERS = st.dictionaries(
    st.sampled_from(["state-machine", "execution-name", "x-other"]),
    st.none() | st.integers() | st.text(max_size=100) | st.binary(max_size=20),
)


def parsed_or_refused(parse: Any, *args: Any) -> None:
    started = time.perf_counter()
    with contextlib.suppress(ValueError):
        parse(*args)
    assert time.perf_counter() - started < 1.0


@settings(max_examples=100, deadline=None)
@given(BODIES, HEADERS)
def test_intake_messages(body: bytes, headers: dict[str, Any]) -> None:
    parsed_or_refused(messages.IntakeRequest.from_amqp, body, headers)


@settings(max_examples=100, deadline=None)
@given(BODIES)
def test_task_results_and_callbacks(body: bytes) -> None:
    parsed_or_refused(messages.parse_task_result, body)


@settings(max_examples=100, deadline=None)
@given(BODIES)
def test_control_messages(body: bytes) -> None:
    parsed_or_refused(messages.StopExecutionRequest.from_wire, body)


@settings(max_examples=100, deadline=None)
@given(BODIES)
def test_the_bounded_json_parser(body: bytes) -> None:
    try:
        value = limits.loads(body)
    except ValueError:
        return
    assert not limits.json_depth_exceeds(value)


def test_depth_is_counted_as_documented() -> None:
    assert not limits.json_depth_exceeds(json.loads("[" * 128 + "]" * 128))
    assert limits.json_depth_exceeds(json.loads("[" * 129 + "]" * 129))
    assert not limits.json_depth_exceeds({"a": 1, "b": "text"}, 1)
    assert limits.json_depth_exceeds({"a": []}, 1)
