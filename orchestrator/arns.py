"""ARNs in AWS's forms, for the region and account this engine pretends to be."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class StatesArn:
    """A parsed ``arn:PARTITION:states:REGION:ACCOUNT:RESOURCE:NAME[:NAME...]``."""

    partition: str
    region: str
    account: str
    resource: str
    names: tuple[str, ...]


def parse_states_arn(arn: str) -> StatesArn | None:
    """The parts of a Step Functions ARN, or None when ``arn`` is not one."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states":
        return None
    if not all(parts[1:6]) or not all(parts[6:]):
        return None
    return StatesArn(parts[1], parts[3], parts[4], parts[5], tuple(parts[6:]))


@dataclass(frozen=True)
class Account:
    """The partition, region and account that ARNs are built for."""

    region: str = "us-east-1"
    account: str = "123456789012"
    partition: str = "aws"

    @classmethod
    def from_env(cls) -> Account:
        """``SFN_REGION`` and ``SFN_ACCOUNT`` from the environment, else the defaults."""
        return cls(
            region=os.environ.get("SFN_REGION") or cls.region,
            account=os.environ.get("SFN_ACCOUNT") or cls.account,
        )

    def state_machine_arn(self, name: str) -> str:
        """``arn:aws:states:REGION:ACCOUNT:stateMachine:NAME``."""
        return f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:{name}"

    def execution_arn(self, state_machine: str, name: str) -> str:
        """``arn:aws:states:REGION:ACCOUNT:execution:STATEMACHINE:NAME``."""
        return f"arn:{self.partition}:states:{self.region}:{self.account}:execution:{state_machine}:{name}"

    def express_execution_arn(self, state_machine: str, name: str, run: str) -> str:
        """``arn:aws:states:REGION:ACCOUNT:express:STATEMACHINE:NAME:RUN``: an EXPRESS
        execution's ARN, as AWS gives it (a run id after the name: names may repeat)."""
        return f"arn:{self.partition}:states:{self.region}:{self.account}:express:{state_machine}:{name}:{run}"

    def owns(self, arn: StatesArn) -> bool:
        """Whether ``arn`` names a resource of this partition, region and account."""
        return (arn.partition, arn.region, arn.account) == (
            self.partition,
            self.region,
            self.account,
        )

    def names_in(self, arn: str, resource: str, count: int) -> tuple[str, ...] | None:
        """The ``count`` names after ``resource`` in a states ARN of this account, else None.

        ``names_in(arn, "execution", 2)`` gives (state machine, execution name). An ARN of
        another partition, region or account, of another resource type, or with another
        number of names (a version or alias qualifier) is not one of ours: None.
        """
        parsed = parse_states_arn(arn)
        if parsed is None or not self.owns(parsed) or parsed.resource != resource:
            return None
        return parsed.names if len(parsed.names) == count else None

    def role_arn(self, state_machine: str) -> str:
        """The execution role AWS would show for the state machine (nothing checks it here)."""
        return f"arn:{self.partition}:iam::{self.account}:role/service-role/StepFunctions-{state_machine}-role"
