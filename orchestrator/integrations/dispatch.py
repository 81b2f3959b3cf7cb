"""Where the service sends a dispatched task: the outbox message for its route.

Functions (and ``lambda:invoke``) routed to workers go to their function's queue as a
:class:`~messages.TaskRequest`, as always; an integration routed to workers goes to its
integration queue; an activity's task waits on its activity queue; mocked tasks and the
calls the orchestrator makes itself (``aws``, and ``engine`` ones) go to the calls queue as an
:class:`~messages.IntegrationRequest`. Replies come back on the task-results queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from broker.topology import (
    CALLS_QUEUE,
    TASK_RESULTS_QUEUE,
    activity_queue,
    function_queue,
    integration_queue,
)
from orchestrator.asl import interpreter
from orchestrator.asl.definition import StateMachine, TaskState
from orchestrator.integrations.mock_target import MockTarget
from orchestrator.integrations.routing import Routing
from orchestrator.store import OutboxMessage
from orchestrator.task_messages import integration_request, task_request


def dispatch_message(
    command: interpreter.DispatchTask,
    state: interpreter.ExecutionState,
    routing: Routing,
    mock: MockTarget | None = None,
) -> OutboxMessage:
    """The outbox message that carries ``command`` of execution ``state`` to its target."""
    # The integration request is built only where it is needed: validating one walks its
    # whole payload, and a function's task sends a TaskRequest instead.
    request = None
    if mock is not None:
        request = integration_request(command, state)
        if mock.claims(request):
            return _outbox_message(command, CALLS_QUEUE, request.to_wire())
    queue = queue_for(
        routing,
        command.integration,
        command.service,
        command.action,
        command.resource,
        command.function_name,
        command.pattern,
    )
    if command.integration in ("function", "invoke") and queue != CALLS_QUEUE:
        body = task_request(command, state).to_wire()
    else:
        body = (request or integration_request(command, state)).to_wire()
    return _outbox_message(command, queue, body)


def _outbox_message(command: interpreter.DispatchTask, queue: str, body: bytes) -> OutboxMessage:
    return OutboxMessage(
        exchange="",
        routing_key=queue,
        body=body,
        correlation_id=command.token,
        reply_to=TASK_RESULTS_QUEUE,
    )


def queue_for(
    routing: Routing,
    integration: str,
    service: str,
    action: str,
    resource: str,
    function_name: str,
    pattern: str = "",
) -> str:
    """The queue a task of this kind is published to (its route decides)."""
    route = routing.route(integration, service, action, pattern, function_name)
    if integration == "activity":
        return activity_queue(resource.rsplit(":", 1)[-1])
    if route.target != "worker":
        return CALLS_QUEUE
    if integration in ("function", "invoke"):
        return function_queue(function_name)
    return integration_queue(service, action)


def _tasks(machines: Iterable[StateMachine]) -> Iterator[TaskState]:
    for machine in machines:
        for scope in machine.scopes:
            for state in scope.states.values():
                if isinstance(state, TaskState):
                    yield state


def _queue_of(routing: Routing, task: TaskState) -> str | None:
    """The queue ``task`` is published to; None for a ``lambda:invoke`` whose FunctionName
    is a path (its queue is known when it runs)."""
    if task.integration in ("function", "invoke") and not task.function_name:
        return None
    return queue_for(
        routing,
        task.integration,
        task.service,
        task.action,
        task.resource,
        task.function_name,
        task.pattern,
    )


def task_queues(machines: Iterable[StateMachine], routing: Routing) -> set[str]:
    """The queues the Tasks of ``machines`` are published to, known before they run (the
    service declares them, so a task waits there for its worker)."""
    queues = {_queue_of(routing, task) for task in _tasks(machines)}
    return {queue for queue in queues if queue is not None and queue != CALLS_QUEUE}


def describe_routes(machine: StateMachine, routing: Routing) -> list[str]:
    """Where each Task of ``machine`` sends its calls, a line each (for ``validate``)."""
    lines = []
    for task in _tasks([machine]):
        route = routing.route(
            task.integration, task.service, task.action, task.pattern, task.function_name
        )
        queue = _queue_of(routing, task)
        if queue is None:
            where = "worker queue lambda.<FunctionName at run time>"
        elif task.integration == "activity":
            where = f"activity queue {queue}"
        elif route.target == "worker":
            where = f"worker queue {queue}"
        elif route.target in ("aws", "lambda"):
            endpoint = route.endpoint_url or "botocore configuration: AWS_ENDPOINT_URL..."
            where = f"{route.target} ({endpoint})"
        elif route.target == "engine":
            where = "engine (nested execution)"
        else:
            where = route.target
        lines.append(f"{task.name}: {task.resource} -> {where}")
    return lines
