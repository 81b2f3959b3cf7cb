"""The five call-center functions of the AWS tutorial, ported from its Node.js code.

"Create a Serverless Workflow with AWS Step Functions and AWS Lambda": a case is opened,
assigned and worked on; work resolves it or not at random (``Status`` 1 or 0); a resolved
case is closed, an unresolved one escalated. Each function appends to the case's message,
so a run reads ``Case 001: opened...assigned...resolved...closed.`` or
``Case 001: opened...assigned...unresolved...escalating.``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from messages import CaseMessage, CaseStatus, OpenCaseInput
from workers.runtime import Context, function

__all__ = [
    "CLI_NAMES",
    "SEED_ENV",
    "assign_case",
    "close_case",
    "draw_status",
    "escalate_case",
    "make_rng",
    "open_case",
    "reseed",
    "work_on_case",
]

SEED_ENV = "WORKER_SEED"

# The worker command's short names for the functions (``python -m workers open``).
CLI_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "open": "OpenCaseFunction",
        "assign": "AssignCaseFunction",
        "work": "WorkOnCaseFunction",
        "close": "CloseCaseFunction",
        "escalate": "EscalateCaseFunction",
    }
)


def _seed_value(seed: str | None) -> int | str | None:
    """``WORKER_SEED=42`` seeds like ``Random(42)``; other text seeds as text; empty is unset."""
    if not seed:
        return None
    try:
        return int(seed)
    except ValueError:
        return seed


def make_rng(seed: str | None) -> random.Random:
    """A generator seeded as a worker with ``WORKER_SEED=seed`` seeds its own."""
    return random.Random(_seed_value(seed))


def draw_status(rng: random.Random) -> Literal[0, 1]:
    """One coin toss of Work on Case: 1 resolved, 0 unresolved (the tutorial's Math.random)."""
    return 1 if rng.randint(0, 1) == 1 else 0


# One generator per process, so a seeded worker answers with a reproducible sequence.
_rng = make_rng(os.environ.get(SEED_ENV))


def reseed(seed: str | None = None) -> None:
    """Reseed the module's generator from ``seed``, else from ``WORKER_SEED``, else randomly."""
    _rng.seed(_seed_value(seed if seed is not None else os.environ.get(SEED_ENV)))


# The five handlers only build a string: they never wait, so workers call them on the event
# loop (``blocks=False``) instead of paying a thread hop per request.
@function("OpenCaseFunction", blocks=False)
def open_case(event: OpenCaseInput, context: Context) -> CaseMessage:
    """Open a support case using the input as the case ID."""
    case = event.input_case_id
    return CaseMessage(Case=case, Message=f"Case {case}: opened...")


@function("AssignCaseFunction", blocks=False)
def assign_case(event: CaseMessage, context: Context) -> CaseMessage:
    """Assign the case to a support representative."""
    return CaseMessage(Case=event.case, Message=event.message + "assigned...")


@function("WorkOnCaseFunction", blocks=False)
def work_on_case(event: CaseMessage, context: Context) -> CaseStatus:
    """Work on the case; whether it gets resolved is a coin toss, as in the tutorial."""
    status = draw_status(_rng)
    suffix = "resolved..." if status == 1 else "unresolved..."
    return CaseStatus(Case=event.case, Status=status, Message=event.message + suffix)


@function("CloseCaseFunction", blocks=False)
def close_case(event: CaseStatus, context: Context) -> CaseStatus:
    """Close a resolved case."""
    return CaseStatus(Case=event.case, Status=event.status, Message=event.message + "closed.")


@function("EscalateCaseFunction", blocks=False)
def escalate_case(event: CaseStatus, context: Context) -> CaseStatus:
    """Escalate an unresolved case to tier 2 support."""
    return CaseStatus(Case=event.case, Status=event.status, Message=event.message + "escalating.")
