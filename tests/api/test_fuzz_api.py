"""Fuzzing every API action's request body against the real ASGI app, store and engine.

Bodies are drawn from botocore's input shape of each action: well-formed requests with random
values (ARNs of our machines and of others, definitions valid and not, JSON inputs), and
ill-formed ones (wrong JSON types, missing members, huge strings, deep nesting, random JSON
and bytes). Whatever arrives, the API answers within a bound, never with a 5xx, and every
refusal is AWS-shaped: ``{"__type", "message"}`` with a matching ``x-amzn-ErrorType``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.api.actions import ACTIONS as BASE_ACTIONS
from orchestrator.api.map_runs import MAP_RUN_ACTIONS
from orchestrator.api.versions import VERSION_ACTIONS
from tests.api.inprocess import Answer, InProcessApi, asgi_call, in_process_api

# The actions fuzzed: all but the activities' (GetActivityTask long-polls; they have their own
# tests).
ACTIONS = BASE_ACTIONS + VERSION_ACTIONS + MAP_RUN_ACTIONS

pytestmark = pytest.mark.integration
MODEL = botocore.session.get_session().get_service_model("stepfunctions")
CALL_BOUND_SECONDS = 5.0
PREFIX = "arn:aws:states:us-east-1:123456789012"
EXISTING = [  # drawn often, so that actions get past their look-ups
    f"{PREFIX}:stateMachine:FolderPass",
    f"{PREFIX}:stateMachine:FolderWait",
    f"{PREFIX}:stateMachine:Fuzzed",
    f"{PREFIX}:execution:FolderWait:fuzz",
]
ARNS = [
    *EXISTING,
    f"{PREFIX}:stateMachine:Fuzzed:1",
    f"{PREFIX}:execution:FolderPass:fuzz",
    f"{PREFIX}:execution:FolderPass",
    "arn:aws:states:eu-west-1:999999999999:stateMachine:FolderPass",
    "arn:aws:states:us-east-1:123456789012:activity:A",
    "arn:aws:lambda:us-east-1:123456789012:function:F",
    "arn:aws:states:::",
    "not-an-arn",
]
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
DEFINITIONS = [
    json.dumps(PASS),
    json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Nowhere"}}}),
    json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"a": [1, 2]}, "End": True}}}
    ),
    '{"StartAt": ',
    json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": [[[[]]]], "End": True}}}
    ),
    "[" * 300 + "]" * 300,
    "null",
]


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    scalars = (
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


JSON_TEXTS = st.one_of(
    json_values().map(json.dumps),
    st.sampled_from(["", "{", "NaN", "1e999", deep(129), deep(128), "9" * 5000]),
    st.text(max_size=20),
)


def strings(name: str, shape: Shape) -> st.SearchStrategy[Any]:
    """Values for a string member: the kinds the action looks into, and anything."""
    enum = shape.metadata.get("enum")
    anything = st.text(max_size=24)
    if enum:
        return st.sampled_from(enum) | anything
    if name.endswith("Arn"):
        return st.sampled_from(EXISTING) | st.sampled_from(ARNS) | anything
    if name == "definition":
        return st.sampled_from(DEFINITIONS) | anything
    if name in ("input", "output"):
        return JSON_TEXTS
    if name == "name":
        return st.sampled_from(["fuzz", "Fuzzed", "bad name", "x" * 81]) | anything
    if name == "nextToken":
        return st.sampled_from(["LTE", "AAAA.AAAA", "a" * 1025]) | anything
    return anything


def values(name: str, shape: Shape) -> st.SearchStrategy[Any]:
    """A value of ``shape``, mostly well-typed."""
    if isinstance(shape, StructureShape):
        return structures(shape)
    if isinstance(shape, ListShape):
        return st.lists(values(name, shape.member), max_size=3)
    kind = shape.type_name
    if kind == "string":
        return strings(name, shape)
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "long"):
        low, high = shape.metadata.get("min", -5), shape.metadata.get("max", 5000)
        return st.integers(low - 2, high + 2)
    return json_values()


def structures(shape: StructureShape) -> st.SearchStrategy[dict[str, Any]]:
    required = {n: values(n, m) for n, m in shape.members.items() if n in shape.required_members}
    optional = {n: values(n, m) for n, m in shape.members.items() if n not in required}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def broken(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with one member dropped, retyped or made huge."""
    if body and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(body)))
        change = draw(st.sampled_from(["drop", "retype", "huge"]))
        if change == "drop":
            return {k: v for k, v in body.items() if k != key}
        if change == "retype":
            return {**body, key: draw(json_values(4))}
        return {**body, key: "x" * 300_000}
    return {**body, draw(st.text(max_size=8)): draw(json_values(4))}


@st.composite
def bodies(draw: st.DrawFn, action: str) -> bytes:
    """A raw body sent for ``action``."""
    body = draw(structures(MODEL.operation_model(action).input_shape))
    form = draw(st.sampled_from(["valid", "valid", "broken", "json", "deep", "bytes"]))
    if form == "broken":
        body = draw(broken(body))
    if form == "json":
        return json.dumps(draw(json_values())).encode()
    if form == "deep":
        return b'{"input": ' + deep(draw(st.integers(120, 1500))).encode() + b"}"
    if form == "bytes":
        return draw(st.binary(max_size=64))
    return json.dumps(body).encode()


@dataclass
class Harness:
    """The in-process API on an event loop of its own thread (hypothesis calls from outside)."""

    loop: asyncio.AbstractEventLoop
    parts: InProcessApi

    def call(self, action: str | None, body: bytes) -> Answer:
        coroutine = asgi_call(self.parts.app, body, target=action)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(CALL_BOUND_SECONDS)


@pytest.fixture(scope="module")
def harness(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    context = in_process_api(amqp_url, tmp_path_factory.mktemp("fuzz"), sync_timeout=1.0)
    parts = asyncio.run_coroutine_threadsafe(context.__aenter__(), loop).result(30)
    try:
        harness = Harness(loop, parts)
        start = json.dumps({"stateMachineArn": ARNS[1], "name": "fuzz"}).encode()
        assert harness.call("StartExecution", start).status == 200  # something to describe
        yield harness
    finally:
        asyncio.run_coroutine_threadsafe(context.__aexit__(None, None, None), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def assert_aws_shaped(answer: Answer, action: str | None) -> None:
    assert answer.status < 500, (action, answer)
    body = answer.json()
    assert isinstance(body, dict), (action, answer)
    if answer.status >= 400:
        assert set(body) == {"__type", "message"}, (action, answer)
        assert isinstance(body["__type"], str) and body["__type"], (action, answer)
        assert isinstance(body["message"], str), (action, answer)
        assert answer.headers["x-amzn-errortype"] == body["__type"], (action, answer)


def test_actions_cover_the_model(harness: Harness) -> None:
    assert set(ACTIONS) <= set(MODEL.operation_names)
    assert len(ACTIONS) == 32
    # Every action of AWS's model is served (the activities' too).
    served = set(harness.parts.api.handlers)
    assert served == set(MODEL.operation_names) and len(served) == 37


@pytest.mark.parametrize("action", sorted(ACTIONS))
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_action_answers_any_body_in_aws_shape(
    harness: Harness, action: str, data: st.DataObject
) -> None:
    body = data.draw(bodies(action))
    assert_aws_shaped(harness.call(action, body), action)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=st.none() | st.text(max_size=30), body=st.binary(max_size=32))
def test_unknown_targets_are_refused_in_aws_shape(
    harness: Harness, target: str | None, body: bytes
) -> None:
    answer = harness.call(target, body)
    assert_aws_shaped(answer, target)
    if target not in ACTIONS:
        assert answer.status == 400


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/", 405), ("PUT", "/", 405), ("POST", "/other", 404), ("GET", "/metrics/x", 404)],
)
def test_other_paths_and_methods_are_refused_in_aws_shape(
    harness: Harness, method: str, path: str, status: int
) -> None:
    coroutine = asgi_call(harness.parts.app, b"{}", method=method, path=path)
    answer = asyncio.run_coroutine_threadsafe(coroutine, harness.loop).result(CALL_BOUND_SECONDS)
    assert answer.status == status
    assert answer.json() == {
        "__type": "UnknownOperationException",
        "message": f"{method} {path} is not an operation of this service",
    }
