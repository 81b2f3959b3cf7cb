"""How a JSONata state's fields are evaluated: the bindings and the Choice ``Condition``.

In a JSONata state every field may be a ``{% %}`` expression, evaluated with ``$states``
(``input``, ``result``, ``errorOutput``, ``context``) and the workflow variables in scope.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.asl.jsonata import Expression, JsonataError, unexpected_type
from orchestrator.asl.variables import Context


def bindings(
    data: Any,
    context: Context,
    *,
    result: Any = None,
    error_output: Any = None,
    has_result: bool = False,
    has_error: bool = False,
) -> dict[str, Any]:
    """The names an expression sees: the variables, and ``$states``."""
    states: dict[str, Any] = {"input": data, "context": dict(context)}
    if has_result:
        states["result"] = result
    if has_error:
        states["errorOutput"] = error_output
    return {**dict(context.variables.items()), "states": states}


@dataclass(frozen=True)
class ConditionRule:
    """A JSONata choice rule: ``Condition`` is true, false, or an expression giving one."""

    test: bool | Expression
    location: str

    def evaluate(self, data: Any, context: Any) -> bool:
        """Whether the rule holds for the state's input (``$states.input``)."""
        if isinstance(self.test, bool):
            return self.test
        value = self.test.evaluate(bindings(data, context), location="Condition")
        if not isinstance(value, bool):
            raise unexpected_type(self.test.text, "Condition", "boolean", value)
        return value


def render(
    template: Any,
    names: dict[str, Any],
    field: str,
    rng: random.Random,
    now: datetime,
) -> Any:
    """A JSONata template rendered with ``names``."""
    return template.render(names, rng=rng, now=now, field=field)


__all__ = ["ConditionRule", "JsonataError", "bindings", "render"]
