"""The ``mock`` target: answers the tasks a mock configuration's test case names.

An execution started on ``stateMachineArn#TestCase`` (Step Functions Local's convention) has
its test case's states answered from the configuration (:mod:`mock_config`): ``Return`` is the
task's result, ``Throw`` its failure. Other states go to their usual targets.
"""

from __future__ import annotations

import messages
from orchestrator.integrations.mock_config import (
    ACTIVITY_NOT_MOCKABLE_CAUSE,
    RUNTIME_ERROR,
    MockConfig,
    MockReturn,
)


class MockTarget:
    """Answers the mocked tasks of executions started with a test case of ``config``."""

    def __init__(self, config: MockConfig) -> None:
        self.config = config

    def claims(self, request: messages.IntegrationRequest) -> bool:
        """Whether the request's execution runs a test case that mocks its state."""
        if request.test_case is None:
            return False
        case = self.config.test_case(request.state_machine_name, request.test_case)
        return case is not None and case.mocks(request.state_name)

    def call(self, request: messages.IntegrationRequest) -> list[messages.AnyTaskResult] | None:
        """The results of a mocked task, or None when the task is not mocked.

        A ``.sync`` or ``.waitForTaskToken`` task ends with its mocked response at once, as in
        Step Functions Local: no job is polled, no callback awaited.
        """
        if not self.claims(request):
            return None
        assert request.test_case is not None
        case = self.config.test_case(request.state_machine_name, request.test_case)
        assert case is not None
        token, attempt = request.task_token, request.attempt
        if request.integration == "activity":
            return [
                messages.TaskCallFailed(
                    task_token=token,
                    attempt=attempt,
                    error=RUNTIME_ERROR,
                    cause=ACTIVITY_NOT_MOCKABLE_CAUSE,
                )
            ]
        response = case.response(request.state_name, request.invocation)
        assert response is not None
        if not isinstance(response, MockReturn):
            return [
                messages.TaskCallFailed(
                    task_token=token, attempt=attempt, error=response.error, cause=response.cause
                )
            ]
        if request.pattern == ".waitForTaskToken":
            return [messages.TaskCallbackSuccess(task_token=token, output=response.value)]
        return [
            messages.TaskSucceeded(
                task_token=token, attempt=attempt, output=response.value, response=True
            )
        ]
