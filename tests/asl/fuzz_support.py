"""Shared settings of the fuzz tests: how many examples, and a knob for longer hunts."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# FUZZ_EXAMPLES_SCALE=50 runs fifty times as many examples: a longer hunt by hand, not for CI.
SCALE = float(os.environ.get("FUZZ_EXAMPLES_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Settings for a fuzz test of ``examples`` examples (scaled), with no per-example deadline
    (each test asserts its own time bound, so a slow machine does not make it flaky) and no
    example database written into the checkout (a failure prints its example)."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
