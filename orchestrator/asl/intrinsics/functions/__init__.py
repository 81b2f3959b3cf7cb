"""The intrinsic functions, one module per family; importing a module registers its functions."""

from __future__ import annotations


def load() -> None:
    """Register every family (idempotent: Python imports each module once)."""
    from orchestrator.asl.intrinsics.functions import (  # noqa: F401
        arrays,
        encoding,
        generic,
        json_functions,
        maths,
        strings,
        unique_id,
    )
