"""A small Lambda-like runtime: a registry of handlers and ``invoke``, which runs one of them.

A handler is a plain synchronous function ``handler(event, context)``, as in AWS Lambda's
Python runtime. When its first parameter is annotated with a pydantic model, the event is
validated into that model first; a payload the model rejects becomes a ``TaskFailed`` with
error type ``ValidationError``, a named error the state machine can Catch. Whatever the
handler raises becomes a ``TaskFailed`` carrying Lambda's error payload (``errorType``,
``errorMessage``, ``stackTrace``), so the orchestrator maps it to a state error exactly as
Step Functions maps a Lambda error.

``invoke`` does no I/O: the worker process (``workers.consumer``) and the orchestrator's
in-process runner both call ``get_function(name)`` then ``invoke(fn, request)``.
"""

from __future__ import annotations

import inspect
import json
import traceback
import typing
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from messages import JsonValue, TaskFailed, TaskRequest, TaskSucceeded

__all__ = [
    "MARSHAL_ERROR",
    "VALIDATION_ERROR",
    "Context",
    "Function",
    "Handler",
    "current_context",
    "function",
    "get_function",
    "invoke",
    "invoke_payload",
    "registered_functions",
]

# Lambda's Python runtime reports an unserialisable return value under this error type.
MARSHAL_ERROR = "Runtime.MarshalError"
# The error type of a payload the handler's input model rejects.
VALIDATION_ERROR = "ValidationError"


@dataclass(frozen=True)
class Context:
    """What a handler learns about its invocation, like Lambda's context object."""

    function_name: str
    request_id: str
    execution_arn: str
    execution_name: str
    state_name: str
    attempt: int


Handler = Callable[[Any, Context], object]
H = TypeVar("H", bound=Handler)

_current: ContextVar[Context] = ContextVar("workers_current_context")


def current_context() -> Context:
    """The context of the invocation running now; ``LookupError`` outside an invocation."""
    try:
        return _current.get()
    except LookupError:
        raise LookupError("current_context() called outside a function invocation") from None


@dataclass(frozen=True)
class Function:
    """A named handler and the pydantic model its event is validated into (None: plain JSON).

    ``blocks`` says the handler may wait (I/O, sleeps): the worker then runs it in a thread so
    the connection keeps serving. A handler that only computes for microseconds is cheaper
    to call on the event loop (``blocks=False``); a thread hop costs more than it does.
    """

    name: str
    handler: Handler
    input_model: type[BaseModel] | None = None
    blocks: bool = True

    @classmethod
    def from_handler(cls, name: str, handler: Handler, *, blocks: bool = True) -> Function:
        """Build a function, taking the input model from the handler's first annotation.

        Raises ``TypeError`` when the handler cannot be called as ``handler(event, context)``.
        """
        try:
            inspect.signature(handler).bind(None, None)
        except TypeError as exc:
            raise TypeError(f"handler of {name!r} must accept (event, context): {exc}") from exc
        return cls(name=name, handler=handler, input_model=_input_model(handler), blocks=blocks)


def _input_model(handler: Handler) -> type[BaseModel] | None:
    """The BaseModel subclass annotated on the handler's first parameter, if any."""
    parameters = list(inspect.signature(handler).parameters)
    if not parameters:
        return None
    # get_type_hints resolves string annotations (``from __future__ import annotations``).
    hint = typing.get_type_hints(handler).get(parameters[0])
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint
    return None


_registry: dict[str, Function] = {}


def function(name: str, *, blocks: bool = True) -> Callable[[H], H]:
    """Register the decorated handler as function ``name``; the handler itself is unchanged.

    Pass ``blocks=False`` for a handler that never waits (see :class:`Function`).

    Raises ``ValueError`` when another handler already holds ``name``.
    """

    def register(handler: H) -> H:
        existing = _registry.get(name)
        if existing is not None and existing.handler is not handler:
            raise ValueError(f"function {name!r} is already registered")
        _registry[name] = Function.from_handler(name, handler, blocks=blocks)
        return handler

    return register


def get_function(name: str) -> Function:
    """The registered function ``name``; ``KeyError`` listing the known names otherwise."""
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise KeyError(f"unknown function {name!r}; registered functions: {known}") from None


def registered_functions() -> Mapping[str, Function]:
    """A read-only snapshot of the registry, by function name."""
    return MappingProxyType(dict(_registry))


def invoke(fn: Function, request: TaskRequest) -> TaskSucceeded | TaskFailed:
    """Run ``fn`` on ``request.payload`` and return its result as the wire reports it.

    Never raises for anything the handler does: a rejected payload, a raised exception and
    an unserialisable return value all become a ``TaskFailed``.
    """
    context = Context(
        function_name=fn.name,
        request_id=str(uuid.uuid4()),
        execution_arn=request.execution_arn,
        execution_name=request.execution_name,
        state_name=request.state_name,
        attempt=request.attempt,
    )

    def failed(error_type: str, message: str, stack_trace: list[str] | None = None) -> TaskFailed:
        return TaskFailed(
            task_token=request.task_token,
            attempt=request.attempt,
            error_type=error_type,
            error_message=message,
            stack_trace=stack_trace or [],
            request_id=context.request_id,
        )

    event: object = request.payload
    if fn.input_model is not None:
        try:
            event = fn.input_model.model_validate(request.payload)
        except ValidationError as exc:
            return failed(VALIDATION_ERROR, str(exc))

    token = _current.set(context)
    try:
        returned = fn.handler(event, context)
    except Exception as exc:
        return failed(type(exc).__name__, str(exc), _stack_trace(exc.__traceback__))
    finally:
        _current.reset(token)

    try:
        output = _marshal(returned)
    # pydantic's PydanticSerializationError is a ValueError; json raises TypeError/ValueError.
    except (TypeError, ValueError) as exc:
        return failed(MARSHAL_ERROR, f"Unable to marshal response: {exc}")
    return TaskSucceeded(
        task_token=request.task_token,
        attempt=request.attempt,
        output=output,
        request_id=context.request_id,
    )


def invoke_payload(
    fn: Function,
    payload: JsonValue,
    *,
    execution_arn: str = "",
    execution_name: str = "",
    state_machine_name: str = "",
    state_name: str = "",
    task_token: str | None = None,
    attempt: int = 0,
) -> TaskSucceeded | TaskFailed:
    """Invoke ``fn`` on ``payload`` without building a ``TaskRequest`` by hand (tests, REPL)."""
    request = TaskRequest(
        execution_arn=execution_arn,
        execution_name=execution_name,
        state_machine_name=state_machine_name,
        state_name=state_name,
        function_name=fn.name,
        task_token=task_token or uuid.uuid4().hex,
        attempt=attempt,
        payload=payload,
    )
    return invoke(fn, request)


def _marshal(returned: object) -> JsonValue:
    """The handler's return value as plain JSON; raises when it is not serialisable."""
    if isinstance(returned, BaseModel):
        # mode="json" already gives plain JSON values: no round trip needed.
        dumped: JsonValue = returned.model_dump(mode="json", by_alias=True)
        return dumped
    if isinstance(returned, bytes | bytearray):
        # Lambda's Python runtime sends bytes as the raw response body, which Step Functions
        # reads as JSON; a body that is not JSON arrives as text.
        text = bytes(returned).decode("utf-8", errors="replace")
        try:
            parsed: JsonValue = json.loads(text)
        except ValueError:
            return text
        return parsed
    # A JSON round trip is what Lambda does to a return value: tuples become lists and
    # anything else json cannot encode (sets, objects, NaN) is a marshal error.
    document: JsonValue = json.loads(json.dumps(returned, allow_nan=False))
    return document


def _stack_trace(tb: TracebackType | None) -> list[str]:
    """Format a traceback as Lambda's Python runtime does, without this module's own frames."""
    frames = traceback.extract_tb(tb)
    # Lambda drops its bootstrap frames from the top; the equivalent here is invoke's frame.
    while frames and frames[0].filename == __file__:
        frames.pop(0)
    return traceback.format_list(frames)
