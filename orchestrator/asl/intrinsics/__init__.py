"""Intrinsic functions of the JSONPath query language (``States.Format(...)`` and the rest).

Pure and synchronous: a call is tokenized and parsed once (:func:`compile_intrinsic`), then
:meth:`Intrinsic.evaluate` computes it from the state's data, the context object and a
``random.Random`` supplied by the caller, the only source of randomness (MathRandom, UUID).

Layout: :mod:`.lexer` (tokens), :mod:`.parser` (recursive descent, nesting limit, argument
counts), :mod:`.nodes` (the compiled tree), :mod:`.spec` (the registry: each function declares
its parameters once), :mod:`.java` (how AWS's Java runtime prints, compares and hashes values),
and :mod:`.functions` with one module per family.
"""

from __future__ import annotations

from orchestrator.asl.intrinsics.nodes import INTRINSIC_ERROR
from orchestrator.asl.intrinsics.parser import (
    MAX_NESTING,
    Intrinsic,
    compile_intrinsic,
    is_intrinsic,
)
from orchestrator.asl.intrinsics.spec import REGISTRY

__all__ = [
    "INTRINSIC_ERROR",
    "MAX_NESTING",
    "REGISTRY",
    "Intrinsic",
    "compile_intrinsic",
    "is_intrinsic",
]
