"""ARNs in AWS's forms, for the region and account this engine pretends to be."""

from __future__ import annotations

import os
from dataclasses import dataclass


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

    def names_in(self, arn: str, resource: str, count: int) -> tuple[str, ...] | None:
        """The ``count`` names after ``resource`` in a states ARN of this partition, else None.

        ``names_in(arn, "execution", 2)`` gives (state machine, execution name).
        """
        parts = arn.split(":")
        if (
            len(parts) < 6 + count
            or parts[:3] != ["arn", self.partition, "states"]
            or parts[5] != resource
        ):
            return None
        return tuple(parts[6 : 6 + count])

    def role_arn(self, state_machine: str) -> str:
        """The execution role AWS would show for the state machine (nothing checks it here)."""
        return f"arn:{self.partition}:iam::{self.account}:role/service-role/StepFunctions-{state_machine}-role"
