"""Carries out the calls the orchestrator makes itself: mocked tasks and the ``aws`` and
``http`` targets.

Synchronous, for a thread: the in-process runner calls :meth:`Targets.call` directly, and the
service runs it in a worker thread for each message of the calls queue. Each call answers
with the task results to apply, in order (a ``.waitForTaskToken`` call with its first answer
only: the task then waits for its token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import messages
from orchestrator.asl import errors
from orchestrator.asl.resources import function_name_of
from orchestrator.integrations.aws.call import AwsCall, AwsCaller
from orchestrator.integrations.aws.failures import TaskCallFailed
from orchestrator.integrations.aws.jobs import run_job
from orchestrator.integrations.http_target import HttpTarget
from orchestrator.integrations.mock_target import MockTarget
from orchestrator.integrations.routing import Routing

log = logging.getLogger(__name__)


class Targets:
    """The mock configuration (if any) first, then the routing table's ``aws`` and ``http``
    targets."""

    def __init__(
        self,
        routing: Routing | None = None,
        mock: MockTarget | None = None,
        aws: Callable[[str | None], AwsCaller] | None = None,
    ) -> None:
        self.routing = routing or Routing()
        self.mock = mock
        self.http = HttpTarget(self.routing.connections)
        self._aws_factory = aws or (lambda endpoint: AwsCaller(endpoint_url=endpoint))
        self._aws: dict[str | None, AwsCaller] = {}

    def claims(self, request: messages.IntegrationRequest) -> bool:
        """Whether this object carries ``request`` (a mocked task, or an ``aws`` route)."""
        if self.mock is not None and self.mock.claims(request):
            return True
        route = self.routing.route(
            request.integration,
            request.service,
            request.action,
            request.pattern,
            function_name_of(request.resource),
        )
        return route.target in ("aws", "http", "lambda")

    def call(
        self,
        request: messages.IntegrationRequest,
        emit: Callable[[messages.AnyTaskResult], None] | None = None,
    ) -> list[messages.AnyTaskResult] | None:
        """The results of ``request``, or None when another target carries it.

        A ``.sync`` job's first answer (TaskSubmitted) goes to ``emit`` as soon as the job has
        started, when given (the service publishes it at once); else it leads the results.
        """
        if self.mock is not None:
            mocked = self.mock.call(request)
            if mocked is not None:
                return mocked
        route = self.routing.route(
            request.integration,
            request.service,
            request.action,
            request.pattern,
            function_name_of(request.resource),
        )
        if route.target == "http":
            return self.http.call(request)
        if route.target not in ("aws", "lambda"):
            return None
        caller = self._aws.get(route.endpoint_url)
        if caller is None:
            caller = self._aws[route.endpoint_url] = self._aws_factory(route.endpoint_url)
        token, attempt = request.task_token, request.attempt
        function = request.integration == "function"  # a function ARN: Lambda's Invoke API
        call = AwsCall(
            service="lambda" if function else request.service,
            action="invoke" if function else request.action,
            pattern=request.pattern,
            parameters={"FunctionName": request.resource, "Payload": request.parameters}
            if function
            else request.parameters,
            region=request.region,
            credentials=request.credentials if isinstance(request.credentials, dict) else None,
            state_machine_arn=_state_machine_arn(request.execution_arn),
            execution_arn=request.execution_arn,
        )
        early: list[messages.AnyTaskResult] = []

        def submitted(answer: Any) -> None:
            result = messages.TaskSubmitted(task_token=token, attempt=attempt, output=answer)
            if emit is not None:
                emit(result)
            else:
                early.append(result)

        try:
            if request.pattern in (".sync", ".sync:2"):
                output = run_job(caller, call, submitted=submitted, should_stop=lambda: False)
            else:
                output = caller.call(call)
        except TaskCallFailed as failure:
            return [
                *early,
                messages.TaskCallFailed(
                    task_token=token, attempt=attempt, error=failure.error, cause=failure.cause
                ),
            ]
        except Exception as exc:  # a fault of ours: the task fails, the service goes on
            log.exception("calling %s failed", request.resource)
            return [
                messages.TaskCallFailed(
                    task_token=token,
                    attempt=attempt,
                    error=errors.RUNTIME,
                    cause=f"An internal error occurred while calling {request.resource}:"
                    f" {type(exc).__name__}: {exc}",
                )
            ]
        if request.pattern == ".waitForTaskToken":
            return [messages.TaskSubmitted(task_token=token, attempt=attempt, output=output)]
        if function:  # the function's own result, as a worker would return it
            output = output.get("Payload") if isinstance(output, dict) else output
        return [
            *early,
            messages.TaskSucceeded(
                task_token=token,
                attempt=attempt,
                output=output,
                response=request.integration == "invoke",  # already Invoke's whole response
            ),
        ]


def _state_machine_arn(execution_arn: str) -> str:
    """The state machine of an execution ARN (``...:execution:M:name`` -> ``...:stateMachine:M``)."""
    head, _, rest = execution_arn.partition(":execution:")
    return f"{head}:stateMachine:{rest.split(':')[0]}"
