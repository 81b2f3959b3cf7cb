"""Control messages to the orchestrator service, on its ``orchestrator.control`` queue."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from messages.base import WireModel


class StopExecutionRequest(WireModel):
    """StopExecution: abort a running execution (by ARN, or by state machine and name)."""

    version: Literal[1] = 1
    kind: Literal["STOP_EXECUTION"] = "STOP_EXECUTION"
    execution_arn: str | None = None
    state_machine: str | None = None
    name: str | None = None
    error: str | None = None
    cause: str | None = None

    @model_validator(mode="after")
    def _names_an_execution(self) -> StopExecutionRequest:
        if self.execution_arn is None and (self.state_machine is None or self.name is None):
            raise ValueError("name the execution: executionArn, or stateMachine and name")
        return self
