"""What a Task's ``Resource`` names: a Lambda function, a service integration, an activity.

AWS accepts a Lambda function ARN, a service integration (``arn:aws:states:::SERVICE:ACTION``,
optionally with ``.sync``, ``.sync:2`` or ``.waitForTaskToken``; ``SERVICE`` may be
``aws-sdk:NAME``), and an activity ARN (``arn:aws:states:REGION:ACCOUNT:activity:NAME``).
Which services and actions exist, with which patterns, is :mod:`orchestrator.asl.services`'
business; this module only reads the ARN's shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from orchestrator.asl.errors import abbreviate

LAMBDA_ARN = re.compile(
    r"^arn:[\w-]+:lambda:[\w-]*:\d*:function:(?P<name>[^:\s]{1,140})(?::[^:\s]+)?$"
)
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
WAIT_FOR_TOKEN = ".waitForTaskToken"
_INTEGRATION = re.compile(
    r"^arn:(?P<partition>aws[\w-]*):states:(?P<region>[a-z0-9-]*):(?P<account>\d*):"
    r"(?P<service>(?:aws-sdk:)?[a-z][a-z0-9-]*):(?P<action>[A-Za-z][\w-]*)"
    r"(?P<pattern>\.sync(?::2)?|\.waitForTaskToken)?$"
)
_ACTIVITY = re.compile(
    r"^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:activity:(?P<name>[A-Za-z0-9_.~+=@-]{1,80})$"
)
# Names AWS gives the part after "states:REGION:ACCOUNT:" that are not integrations.
_NOT_SERVICES = {"activity", "stateMachine", "execution", "express", "mapRun"}

Pattern = Literal["", ".sync", ".sync:2", ".waitForTaskToken"]


@dataclass(frozen=True)
class Resource:
    """A classified ``Resource``: ``kind`` says which form it has, ``problem`` why it is refused.

    ``service`` tasks carry ``service`` (``sqs``, ``aws-sdk:dynamodb``), ``action``
    (``sendMessage``) and ``pattern`` (``""`` for request-response); ``function`` tasks their
    ``function_name``; ``activity`` tasks the activity's ``name``.
    """

    kind: Literal["function", "service", "activity", "invalid"]
    function_name: str = ""
    service: str = ""
    action: str = ""
    pattern: Pattern = ""
    name: str = ""
    region: str = ""
    problem: str = ""

    @property
    def wait_for_token(self) -> bool:
        """Whether the task waits for SendTaskSuccess/Failure with its token."""
        return self.pattern == WAIT_FOR_TOKEN


def classify(resource: str) -> Resource:
    """Which kind of resource ``resource`` is (see :class:`Resource`)."""
    if match := LAMBDA_ARN.match(resource):
        return Resource("function", function_name=match.group("name"))
    if match := _ACTIVITY.match(resource):
        return Resource("activity", name=match.group("name"))
    match = _INTEGRATION.match(resource)
    if match and match.group("service") not in _NOT_SERVICES:
        service, action = match.group("service"), match.group("action")
        pattern: Pattern = match.group("pattern") or ""  # type: ignore[assignment]
        # Real-world definitions sometimes write a region (and account) in the ARN; the
        # region then says where the call goes.
        return Resource(
            "service",
            service=service,
            action=action,
            pattern=pattern,
            region=match.group("region"),
        )
    return Resource(
        "invalid",
        problem=f"{abbreviate(resource)} is not a Lambda function ARN"
        " (arn:aws:lambda:REGION:ACCOUNT:function:NAME), a service integration"
        " (arn:aws:states:::SERVICE:API) or an activity ARN"
        " (arn:aws:states:REGION:ACCOUNT:activity:NAME)",
    )


def function_name_of(value: str) -> str:
    """The function name in a Lambda function name, partial ARN or ARN (qualifier dropped)."""
    if match := LAMBDA_ARN.match(value):
        return match.group("name")
    return value.split(":")[0]
