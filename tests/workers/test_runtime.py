"""The Lambda-like runtime: registration, invocation, and Lambda's error payloads."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from messages import JsonValue, TaskFailed, TaskRequest, TaskSucceeded
from workers import runtime
from workers.runtime import Context, Function, current_context, get_function, invoke


class Greeting(BaseModel):
    name: str


class CaseNotFoundError(Exception):
    """A handler's own error class, as a state machine would Catch it."""


def make_request(payload: JsonValue, *, attempt: int = 2) -> TaskRequest:
    return TaskRequest(
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:CallCenter:run-1",
        execution_name="run-1",
        state_machine_name="CallCenter",
        state_name="Greet",
        function_name="Greet",
        task_token="token-1",
        attempt=attempt,
        payload=payload,
    )


def test_input_model_is_taken_from_the_first_annotation() -> None:
    def modelled(event: Greeting, context: Context) -> str:
        return event.name

    def plain(event: dict[str, object], context: Context) -> object:
        return event

    assert Function.from_handler("m", modelled).input_model is Greeting
    assert Function.from_handler("p", plain).input_model is None


def test_handler_must_take_event_and_context() -> None:
    def one(event: object) -> None: ...

    with pytest.raises(TypeError, match="event, context"):
        Function.from_handler("one", one)  # type: ignore[arg-type]


def test_success_copies_token_and_attempt_and_dumps_by_alias() -> None:
    def greet(event: Greeting, context: Context) -> Greeting:
        return Greeting(name=event.name.upper())

    result = invoke(Function.from_handler("Greet", greet), make_request({"name": "ada"}))
    assert result == TaskSucceeded(
        task_token="token-1", attempt=2, output={"name": "ADA"}, request_id=result.request_id
    )
    assert result.request_id and len(result.request_id) == 36  # the invocation's own uuid


def test_plain_json_passes_through() -> None:
    def echo(event: JsonValue, context: Context) -> object:
        return {"got": event, "tuple": (1, 2)}

    result = invoke(Function.from_handler("Echo", echo), make_request([1, "two", None]))
    assert isinstance(result, TaskSucceeded)
    assert result.output == {"got": [1, "two", None], "tuple": [1, 2]}


def test_invalid_payload_is_a_validation_error() -> None:
    called = False

    def greet(event: Greeting, context: Context) -> None:
        nonlocal called
        called = True

    result = invoke(Function.from_handler("Greet", greet), make_request({"nom": "ada"}))
    assert isinstance(result, TaskFailed)
    assert result.error_type == "ValidationError"
    assert "validation error for Greeting" in result.error_message
    assert "name" in result.error_message
    assert (result.task_token, result.attempt) == ("token-1", 2)
    assert not called


def test_raised_exception_becomes_lambda_error_payload() -> None:
    def lookup(event: JsonValue, context: Context) -> None:
        raise CaseNotFoundError("case 001 does not exist")

    result = invoke(Function.from_handler("Lookup", lookup), make_request({}))
    assert isinstance(result, TaskFailed)
    assert result.error_type == "CaseNotFoundError"
    assert result.error_message == "case 001 does not exist"
    assert result.stack_trace, "a stack trace is expected"
    # Lambda's format: traceback.format_list entries, starting at the handler's own frame.
    assert result.stack_trace[0].startswith(f'  File "{__file__}"')
    assert "in lookup" in result.stack_trace[0]
    assert "raise CaseNotFoundError" in result.stack_trace[-1]


def test_context_is_current_during_the_call_only() -> None:
    seen: list[Context] = []

    def look(event: JsonValue, context: Context) -> str:
        seen.append(current_context())
        assert current_context() is context
        return context.request_id

    fn = Function.from_handler("Look", look)
    first = invoke(fn, make_request(None))
    second = invoke(fn, make_request(None))
    assert isinstance(first, TaskSucceeded) and isinstance(second, TaskSucceeded)
    context = seen[0]
    assert context.function_name == "Look"
    assert context.execution_arn.endswith(":run-1")
    assert (context.execution_name, context.state_name, context.attempt) == ("run-1", "Greet", 2)
    assert first.output == context.request_id
    assert first.output != second.output, "a fresh request id per invocation"
    with pytest.raises(LookupError):
        current_context()


def test_unserialisable_return_is_a_marshal_error() -> None:
    def weird(event: JsonValue, context: Context) -> object:
        return {"when": {1, 2}}

    result = invoke(Function.from_handler("Weird", weird), make_request(None))
    assert isinstance(result, TaskFailed)
    assert result.error_type == "Runtime.MarshalError"
    assert result.error_message.startswith("Unable to marshal response:")
    assert "set" in result.error_message


def test_registry_decorator_and_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # A private registry copy, so this test leaves the process-wide one as it was.
    monkeypatch.setattr(runtime, "_registry", dict(runtime._registry))

    @runtime.function("Shout")
    def shout(event: Greeting, context: Context) -> str:
        return event.name + "!"

    fn = get_function("Shout")
    assert fn.handler is shout and fn.input_model is Greeting
    assert "Shout" in runtime.registered_functions()
    with pytest.raises(ValueError, match="already registered"):
        runtime.function("Shout")(lambda event, context: None)
    with pytest.raises(KeyError, match="OpenCaseFunction"):
        get_function("NoSuchFunction")
