"""States.UUID: a version-4 UUID drawn from the execution's random generator."""

from __future__ import annotations

import random
import uuid
from typing import Any

from orchestrator.asl.intrinsics.spec import function


@function("States.UUID", ignores_arguments=True, uses_random=True)
def _uuid(args: list[Any], rng: random.Random, static: Any) -> str:
    """AWS ignores any arguments given (``States.UUID('x')`` still returns a UUID)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
