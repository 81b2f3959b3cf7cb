"""Helpers shared by the intrinsic function tests."""

from __future__ import annotations

import random
from typing import Any

import pytest

from orchestrator.asl.errors import RUNTIME, StatesError
from orchestrator.asl.intrinsics import compile_intrinsic


def run(text: str, data: Any = None, context: Any = None, rng: random.Random | None = None) -> Any:
    """Compile and evaluate an intrinsic call (with a seeded generator unless given one)."""
    return compile_intrinsic(text).evaluate(data, context or {}, rng or random.Random(0))


def invalid(text: str, data: Any = None) -> str:
    """The cause of the States.Runtime error the call raises (it must raise one)."""
    with pytest.raises(StatesError) as caught:
        run(text, data)
    assert caught.value.error == RUNTIME
    return caught.value.cause
