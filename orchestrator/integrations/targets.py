"""Carries out the calls the orchestrator makes itself: mocked tasks and the ``aws`` and
``http`` targets.

Synchronous, for a thread: the in-process runner calls :meth:`Targets.call` directly, and the
service runs it in a worker thread for each message of the calls queue. Each call answers
with the task results to apply, in order (a ``.waitForTaskToken`` call with its first answer
only: the task then waits for its token). The service runs an ``aws`` ``.sync`` job in steps
instead (:meth:`Targets.start_job`, :meth:`~Targets.poll_job`, :meth:`~Targets.stop_job`),
one call per message, so that no thread or delivery is held while the job runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import messages
from orchestrator.asl.resources import function_name_of
from orchestrator.integrations.answers import failed, internal_failure
from orchestrator.integrations.aws.call import AwsCall, AwsCaller
from orchestrator.integrations.aws.failures import TaskCallFailed
from orchestrator.integrations.aws.jobs import (
    JobPending,
    poll_job,
    run_job,
    runs_job,
    start_job,
    stop_job,
)
from orchestrator.integrations.http_target import HttpTarget
from orchestrator.integrations.mock_target import MockTarget
from orchestrator.integrations.routing import Route, Routing

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
        return self._route(request).target in ("aws", "http", "lambda")

    def call(
        self,
        request: messages.IntegrationRequest,
        emit: Callable[[messages.AnyTaskResult], None] | None = None,
    ) -> list[messages.AnyTaskResult] | None:
        """The results of ``request``, or None when another target carries it.

        A ``.sync`` job runs to its end here, in this thread (the in-process runner's way;
        the service runs jobs step by step instead, see :meth:`start_job`). Its first answer
        (TaskSubmitted) goes to ``emit`` as soon as the job has started, when given; else it
        leads the results.
        """
        if self.mock is not None:
            mocked = self.mock.call(request)
            if mocked is not None:
                return mocked
        route = self._route(request)
        if route.target == "http":
            return self.http.call(request)
        if route.target not in ("aws", "lambda"):
            return None
        caller = self._caller(route.endpoint_url)
        token, attempt = request.task_token, request.attempt
        function = request.integration == "function"  # a function ARN: Lambda's Invoke API
        call = _aws_call(request)
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
            return [*early, _call_failed(request, failure)]
        except Exception as exc:  # a fault of ours: the task fails, the service goes on
            return [internal_failure(request, exc)]
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

    # -- a .sync job step by step (the service's durable polling) --------------------------------

    def runs_job(self, request: messages.IntegrationRequest) -> bool:
        """Whether ``request`` is a ``.sync`` job of the ``aws`` target that the steps below
        run (not mocked, a job :mod:`~orchestrator.integrations.aws.jobs` knows)."""
        if self.mock is not None and self.mock.claims(request):
            return False
        if request.integration != "service" or self._route(request).target != "aws":
            return False
        return runs_job(_aws_call(request))

    def start_job(
        self, request: messages.IntegrationRequest
    ) -> messages.TaskSubmitted | messages.TaskCallFailed:
        """Start ``request``'s job: TaskSubmitted with the start call's answer, or the
        task's failure. Synchronous: run it in a thread."""
        try:
            answer = start_job(self._caller(self._route(request).endpoint_url), _aws_call(request))
        except TaskCallFailed as failure:
            return _call_failed(request, failure)
        except Exception as exc:  # a fault of ours: the task fails, the service goes on
            return internal_failure(request, exc)
        return messages.TaskSubmitted(
            task_token=request.task_token, attempt=request.attempt, output=answer
        )

    def poll_job(
        self, request: messages.IntegrationRequest, submitted: Any, misses: int = 0
    ) -> messages.TaskSucceeded | messages.TaskCallFailed | JobPending:
        """Describe ``request``'s job (``submitted``: its start answer) once: the task's
        result once the job ended, else JobPending (with the misses so far).
        Synchronous: run it in a thread."""
        caller = self._caller(self._route(request).endpoint_url)
        try:
            progress = poll_job(caller, _aws_call(request), submitted, misses)
        except TaskCallFailed as failure:
            return _call_failed(request, failure)
        except Exception as exc:  # a fault of ours: the task fails, the service goes on
            return internal_failure(request, exc)
        if isinstance(progress, JobPending):
            return progress
        return messages.TaskSucceeded(
            task_token=request.task_token, attempt=request.attempt, output=progress.output
        )

    def stop_job(self, request: messages.IntegrationRequest, submitted: Any) -> None:
        """Ask ``request``'s job to stop (its task no longer waits); best effort, nothing is
        raised. Synchronous: run it in a thread."""
        try:
            stop_job(self._caller(self._route(request).endpoint_url), _aws_call(request), submitted)
        except Exception:  # best effort, as AWS's: the job may have ended, or be gone
            log.exception("stopping the job of %s failed", request.resource)

    def s3(self) -> AwsCaller | None:
        """The aws target's caller that S3 calls go to (as routed), for a Distributed Map's
        own reads and writes; None when S3 is routed elsewhere."""
        route = self.routing.route("service", "aws-sdk:s3", "getObject", "")
        if route.target != "aws":
            return None
        return self._caller(route.endpoint_url)

    def _route(self, request: messages.IntegrationRequest) -> Route:
        return self.routing.route(
            request.integration,
            request.service,
            request.action,
            request.pattern,
            function_name_of(request.resource),
        )

    def _caller(self, endpoint_url: str | None) -> AwsCaller:
        """The caller of ``endpoint_url`` (None: botocore's configuration), made once."""
        caller = self._aws.get(endpoint_url)
        if caller is None:
            caller = self._aws[endpoint_url] = self._aws_factory(endpoint_url)
        return caller


def _aws_call(request: messages.IntegrationRequest) -> AwsCall:
    """``request`` as the aws target's call (a function ARN: Lambda's Invoke API)."""
    function = request.integration == "function"
    return AwsCall(
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


def _call_failed(
    request: messages.IntegrationRequest, failure: TaskCallFailed
) -> messages.TaskCallFailed:
    return failed(request, failure.error, failure.cause)


def _state_machine_arn(execution_arn: str) -> str:
    """The state machine of an execution ARN (``...:execution:M:name`` -> ``...:stateMachine:M``)."""
    head, _, rest = execution_arn.partition(":execution:")
    return f"{head}:stateMachine:{rest.split(':')[0]}"
