"""Where the service sends a dispatched task: the outbox message for its route.

Functions (and ``lambda:invoke``) routed to workers go to their function's queue as a
:class:`~messages.TaskRequest`, as always; an integration routed to workers goes to its
integration queue; an activity's task waits on its activity queue; mocked tasks and the
calls the orchestrator makes itself (``aws``, and ``engine`` ones) go to the calls queue as an
:class:`~messages.IntegrationRequest`. Replies come back on the task-results queue.
"""

from __future__ import annotations

from broker.topology import (
    CALLS_QUEUE,
    TASK_RESULTS_QUEUE,
    activity_queue,
    function_queue,
    integration_queue,
)
from orchestrator.asl import interpreter
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
    request = integration_request(command, state)
    mocked = mock is not None and mock.claims(request)
    route = routing.route(command.integration, command.service, command.action, command.pattern)
    if not mocked and route.target == "worker":
        if command.integration in ("function", "invoke"):
            body = task_request(command, state).to_wire()
            queue = function_queue(command.function_name)
        else:
            body, queue = request.to_wire(), integration_queue(command.service, command.action)
    elif not mocked and command.integration == "activity":
        body, queue = request.to_wire(), activity_queue(command.resource.rsplit(":", 1)[-1])
    else:
        body, queue = request.to_wire(), CALLS_QUEUE
    return OutboxMessage(
        exchange="",
        routing_key=queue,
        body=body,
        correlation_id=command.token,
        reply_to=TASK_RESULTS_QUEUE,
    )
