"""Workers for service integrations: your code answers a Task's service call instead of AWS.

A routing file that sends a resource to the ``worker`` target (``{"Resource": "dynamodb:*",
"Target": "worker"}``) makes the engine publish each such Task call to a RabbitMQ queue;
a worker process serves it (``python -m workers.integrations_main MODULE``).

The worker contract (any AMQP client can implement it):

- **Queue.** ``integration.<SERVICE>.<ACTION>``, the service's ``:`` written ``.``; every
  pattern of one action shares the queue: ``arn:aws:states:::dynamodb:putItem`` ->
  ``integration.dynamodb.putItem``, ``arn:aws:states:::aws-sdk:s3:getObject`` ->
  ``integration.aws-sdk.s3.getObject``, ``arn:aws:states:::sqs:sendMessage.waitForTaskToken``
  -> ``integration.sqs.sendMessage``. A durable quorum queue, with its dead-letter queue
  ``<queue>.dead-letter`` (bound to the ``dead-letter`` exchange by the queue's name).
- **Request.** A persistent JSON message (camelCase ``IntegrationRequest``) with the
  properties ``reply_to`` (where to answer) and ``correlation_id`` (the task token). Fields:
  ``executionArn``, ``executionName``, ``stateMachineName``, ``stateName``; ``resource``
  (the Task's whole ARN); ``service`` (``dynamodb``, ``aws-sdk:s3``) and ``action``
  (``putItem``); ``pattern`` (``""`` request-response, ``".sync"``, ``".sync:2"``,
  ``".waitForTaskToken"``); ``region``; ``taskToken``; ``attempt`` (0, then 1 per Retry);
  ``invocation`` (the state's earlier calls in the execution); ``parameters`` (the rendered
  Parameters, exactly as the TaskScheduled event shows them); ``credentials`` (the rendered
  ``Credentials`` field, or null); ``testCase``, ``integration`` and ``version`` (1).
- **Reply.** One persistent JSON message to ``reply_to``, ``correlation_id`` the task token,
  carrying ``taskToken`` and ``attempt`` from the request and a ``status``:

  - ``{"status": "SUCCEEDED", "output": ...}`` (request-response, ``.sync``, ``.sync:2``):
    the task succeeds with ``output`` as the service's response. A ``.sync`` worker runs
    the job to its end and answers with the job's final description.
  - ``{"status": "SUBMITTED", "output": ...}`` (``.waitForTaskToken``): the call is made;
    the task now waits for SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat with the
    token (``python -m orchestrator send-task-success``, the API, or a ``CALLBACK_SUCCESS``
    message on ``orchestrator.task-results``), from the worker or from whoever the
    parameters handed the token to.
  - ``{"status": "CALL_FAILED", "error": ..., "cause": ...}``: the task fails with that
    error, which Retry and Catch match (``DynamoDB.ConditionalCheckFailedException``).

  The worker acks the request only once the broker has confirmed the reply, so a crash
  leaves the request queued: delivery is at least once, and the engine applies one result
  per (task token, attempt). A message that is not a request, or that has no
  ``reply_to``, goes to the dead-letter queue with its reason in the
  ``x-dead-letter-reason`` header; a stopping worker hands the requests it buffered back.

In Python, register a synchronous handler per ``SERVICE:ACTION`` (no pattern suffix: the
context says which pattern called), or a glob over the actions of one service::

    @integration("dynamodb:putItem")
    def put_item(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
        if exists(parameters):
            raise IntegrationError("DynamoDB.ConditionalCheckFailedException",
                                   "The conditional request failed")
        return {}

``parameters`` is the request's ``parameters``; the return value (JSON, or a pydantic model)
is the output. :class:`IntegrationError` fails the task with exactly its ``error`` and
``cause``; any other exception with its class name and message; a return value that is not
JSON with ``Runtime.MarshalError``. :func:`call_integration` turns one request into its
reply, without I/O; :mod:`workers.integration_consumer` serves the queues.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, TypeVar

from messages import (
    AnyTaskResult,
    IntegrationRequest,
    JsonValue,
    TaskCallFailed,
    TaskSubmitted,
    TaskSucceeded,
)
from orchestrator.asl.services import (
    AWS_SDK,
    OPTIMIZED_INTEGRATIONS,
    PATTERNS,
    WAIT_FOR_TASK_TOKEN,
    resource_problem,
    sdk_service,
)
from workers.runtime import MARSHAL_ERROR, _marshal

__all__ = [
    "MARSHAL_ERROR",
    "Integration",
    "IntegrationContext",
    "IntegrationError",
    "IntegrationHandler",
    "Registry",
    "call_integration",
    "current_integration",
    "get_integration",
    "integration",
    "registered_integrations",
    "registry",
]

_GLOB_CHARACTERS = frozenset("*?[")
# lambda:invoke tasks go to their function's queue as Lambda requests, never to a worker of
# this kind: serve them with ``@workers.runtime.function``.
_FUNCTION_QUEUE_ACTIONS = frozenset({("lambda", "invoke")})


@dataclass(frozen=True)
class IntegrationContext:
    """What a handler learns about the call it answers (also :func:`current_integration`).

    ``pattern`` is the call's integration pattern: ``""`` (request-response), ``".sync"``,
    ``".sync:2"`` or ``".waitForTaskToken"``, in which case ``task_token`` is what a later
    SendTaskSuccess/Failure names. ``credentials`` is the Task's rendered ``Credentials``.
    """

    service: str
    action: str
    pattern: str
    resource: str
    task_token: str
    execution_arn: str
    execution_name: str
    state_machine_name: str
    state_name: str
    region: str
    credentials: JsonValue
    attempt: int


_CONTEXT_FIELDS = tuple(each.name for each in fields(IntegrationContext))
_current: ContextVar[IntegrationContext | None] = ContextVar(
    "workers_current_integration", default=None
)


def current_integration() -> IntegrationContext:
    """The context of the call being answered now; ``LookupError`` outside a handler."""
    context = _current.get()
    if context is None:
        raise LookupError("current_integration() called outside an integration handler")
    return context


# A handler: ``handler(parameters, context)`` returns the call's output.
IntegrationHandler = Callable[[Any, IntegrationContext], object]
H = TypeVar("H", bound=IntegrationHandler)


class IntegrationError(Exception):
    """Raised by a handler: the task fails with exactly ``error`` (an AWS-style name such as
    ``DynamoDB.ConditionalCheckFailedException``, which Retry and Catch match) and ``cause``."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(error if cause is None else f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass(frozen=True)
class Integration:
    """A registered handler: ``pattern`` as registered (``dynamodb:putItem``,
    ``aws-sdk:s3:*``), and the ``(service, action)`` pairs it serves (a glob's expansion)."""

    pattern: str
    handler: IntegrationHandler
    serves: tuple[tuple[str, str], ...] = ()

    @property
    def is_glob(self) -> bool:
        """Whether ``pattern`` names its actions by a glob."""
        return not _GLOB_CHARACTERS.isdisjoint(self.pattern)


class Registry:
    """Integration handlers by pattern; :data:`registry` is the one the decorator fills."""

    def __init__(self) -> None:
        self._integrations: dict[str, Integration] = {}

    def register(self, pattern: str, handler: IntegrationHandler) -> Integration:
        """Register ``handler`` for ``pattern`` (``SERVICE:ACTION``, the action maybe a glob).

        Raises ``ValueError`` for a pattern Step Functions has no resource for (or one that
        expands to none), one with a pattern suffix, ``lambda:invoke``, or one that another
        handler holds; ``TypeError`` for a handler that cannot take (parameters, context).
        """
        existing = self._integrations.get(pattern)
        if existing is not None:
            if existing.handler is not handler:
                raise ValueError(f"integration {pattern!r} is already registered")
            return existing
        try:
            inspect.signature(handler).bind(None, None)
        except TypeError as exc:
            raise TypeError(
                f"handler of {pattern!r} must accept (parameters, context): {exc}"
            ) from exc
        registered = Integration(pattern, handler, _expand(pattern))
        self._integrations[pattern] = registered
        return registered

    def table(self) -> Mapping[tuple[str, str], Integration]:
        """Which integration serves each ``(service, action)``: an exact registration before
        a glob, and of two globs the one registered first."""
        table: dict[tuple[str, str], Integration] = {}
        ordered = sorted(self._integrations.values(), key=lambda each: each.is_glob)
        for registered in ordered:  # sorted() is stable: globs keep their order
            for key in registered.serves:
                table.setdefault(key, registered)
        return MappingProxyType(table)


registry = Registry()


def integration(pattern: str) -> Callable[[H], H]:
    """Register the decorated handler for ``pattern`` in :data:`registry`; the handler itself
    is unchanged. See :meth:`Registry.register` for what it refuses."""

    def register(handler: H) -> H:
        registry.register(pattern, handler)
        return handler

    return register


def registered_integrations() -> Mapping[tuple[str, str], Integration]:
    """A read-only snapshot of :data:`registry`'s table, by ``(service, action)``."""
    return registry.table()


def get_integration(service: str, action: str) -> Integration:
    """The integration serving ``service``:``action``; ``KeyError`` listing those known."""
    table = registry.table()
    try:
        return table[(service, action)]
    except KeyError:
        known = ", ".join(sorted(f"{s}:{a}" for s, a in table)) or "none"
        raise KeyError(f"no integration serves {service}:{action}; registered: {known}") from None


def call_integration(
    handler: IntegrationHandler, request: IntegrationRequest
) -> list[AnyTaskResult]:
    """Run ``handler`` on ``request.parameters``; the results to reply, as the wire says them.

    Never raises for anything the handler does: an :class:`IntegrationError`, any other
    exception and an unserialisable return value all become a ``TaskCallFailed``.
    """
    # The context's fields are the request's, by the same names.
    context = IntegrationContext(**{name: getattr(request, name) for name in _CONTEXT_FIELDS})
    token, attempt = request.task_token, request.attempt
    reset = _current.set(context)
    try:
        returned = handler(request.parameters, context)
    except IntegrationError as exc:
        return [TaskCallFailed(task_token=token, attempt=attempt, error=exc.error, cause=exc.cause)]
    except Exception as exc:
        return [
            TaskCallFailed(
                task_token=token, attempt=attempt, error=type(exc).__name__, cause=str(exc)
            )
        ]
    finally:
        _current.reset(reset)
    try:
        output = _marshal(returned)
    # The Lambda runtime's marshalling, and its error: json raises TypeError/ValueError.
    except (TypeError, ValueError) as exc:
        cause = f"Unable to marshal response: {exc}"
        return [TaskCallFailed(task_token=token, attempt=attempt, error=MARSHAL_ERROR, cause=cause)]
    if request.pattern == WAIT_FOR_TASK_TOKEN:
        return [TaskSubmitted(task_token=token, attempt=attempt, output=output)]
    return [TaskSucceeded(task_token=token, attempt=attempt, output=output)]


def _expand(pattern: str) -> tuple[tuple[str, str], ...]:
    """The ``(service, action)`` pairs ``pattern`` names; ``ValueError`` when none or wrong."""
    for suffix in PATTERNS:
        if suffix and pattern.endswith(suffix):
            raise ValueError(
                f"integration {pattern!r} names a pattern: register"
                f" {pattern.removesuffix(suffix)!r}, which serves every pattern"
                " (the context's pattern says which one called)"
            )
    service, sep, action = pattern.rpartition(":")
    if not sep or not service or not action:
        raise ValueError(
            f"integration {pattern!r} must be SERVICE:ACTION, such as dynamodb:putItem"
            " or aws-sdk:s3:getObject"
        )
    if not _GLOB_CHARACTERS.isdisjoint(service):
        raise ValueError(f"integration {pattern!r}: only the action may be a glob, not the service")
    if _GLOB_CHARACTERS.isdisjoint(action):
        candidates = [action]
    else:
        candidates = fnmatch.filter(_actions_of(service), action)
    kept = [name for name in candidates if (service, name) not in _FUNCTION_QUEUE_ACTIONS]
    if candidates and not kept:
        raise ValueError(
            f"{service}:{candidates[0]} tasks go to their function's queue: serve them with"
            " @workers.runtime.function"
        )
    served = tuple((service, name) for name in kept if resource_problem(service, name, "") is None)
    if not served:
        problem = resource_problem(service, action, "") or "no action matches"
        raise ValueError(f"integration {pattern!r} names no Task resource: {problem}")
    return served


def _actions_of(service: str) -> list[str]:
    """Every action of ``service`` (``dynamodb``, ``aws-sdk:s3``) a glob may match."""
    if service.startswith(AWS_SDK + ":"):
        found = sdk_service(service.removeprefix(AWS_SDK + ":"))
        if found is None:
            return []
        # Imported here: only aws-sdk globs need botocore's models.
        import botocore.loaders

        model = botocore.loaders.create_loader().load_service_model(
            found.botocore_name, "service-2"
        )
        return [name[:1].lower() + name[1:] for name in model["operations"]]
    return list(OPTIMIZED_INTEGRATIONS.get(service, {}))
