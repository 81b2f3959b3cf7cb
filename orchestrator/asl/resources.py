"""What a Task's ``Resource`` names: a Lambda function, an integration, an activity, or nothing.

AWS accepts a Lambda function ARN, a service integration (``arn:aws:states:::SERVICE:API``,
optionally with ``.sync``, ``.sync:2`` or ``.waitForTaskToken``; real-world definitions also
write a region and account in it), and an activity ARN
(``arn:aws:states:REGION:ACCOUNT:activity:NAME``). This engine runs Lambda functions and the
``lambda:invoke`` integration; the other valid forms are named as not supported yet, and only
text that is none of these is an invalid resource.
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
    r"(?P<service>[a-z][a-z0-9-]*):(?P<api>[A-Za-z][\w-]*(?::[A-Za-z][\w-]*)?)"
    r"(?P<suffix>\.sync(?::2)?|\.waitForTaskToken)?$"
)
_ACTIVITY = re.compile(
    r"^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:activity:(?P<name>[A-Za-z0-9_.~+=@-]{1,80})$"
)
# Names AWS gives the part after "states:REGION:ACCOUNT:" that are not integrations.
_NOT_SERVICES = {"activity", "stateMachine", "execution", "express", "mapRun"}


@dataclass(frozen=True)
class Resource:
    """A classified ``Resource``: ``kind`` says which form it has, ``problem`` why it is refused.

    ``function`` and ``invoke`` run here; ``integration`` and ``activity`` are valid ASL that
    does not run yet; ``invalid`` is not a resource AWS accepts.
    """

    kind: Literal["function", "invoke", "integration", "activity", "invalid"]
    function_name: str = ""
    wait_for_token: bool = False
    problem: str = ""


def classify(resource: str) -> Resource:
    """Which kind of resource ``resource`` is (see :class:`Resource`)."""
    if resource.removesuffix(WAIT_FOR_TOKEN) == LAMBDA_INVOKE:
        return Resource("invoke", wait_for_token=resource.endswith(WAIT_FOR_TOKEN))
    if match := LAMBDA_ARN.match(resource):
        return Resource("function", function_name=match.group("name"))
    if match := _ACTIVITY.match(resource):
        return Resource(
            "activity",
            problem=f"activity tasks are not supported yet (activity {match.group('name')!r});"
            " Lambda functions are",
        )
    match = _INTEGRATION.match(resource)
    if match and match.group("service") not in _NOT_SERVICES:
        service = resource.split(":", 5)[5]
        if match.group("region") or match.group("account"):
            hint = (
                f"; write {LAMBDA_INVOKE}{match.group('suffix') or ''} to run it"
                if f"{match.group('service')}:{match.group('api')}" == "lambda:invoke"
                else ""
            )
            problem = (
                f"the service integration {abbreviate(service)} (written with a region and account) is"
                f" not supported yet; Lambda functions are{hint}"
            )
        else:
            problem = f"the service integration {abbreviate(service)} is not supported yet; Lambda functions are"
        return Resource("integration", problem=problem)
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
