"""A JSONata Choice rule: its ``Condition``, and the names it is evaluated with.

The loader compiles each rule into a :class:`ConditionRule`; the JSONata data flow
(:mod:`orchestrator.asl.flows.jsonata`) evaluates the rules of a Choice state with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.asl.jsonata import Expression, JsonataError, unexpected_type
from orchestrator.asl.variables import Context


def bindings(data: Any, context: Context) -> dict[str, Any]:
    """The names a Choice rule's ``Condition`` sees: the variables, and ``$states`` (its
    ``input`` and ``context``). Other fields get theirs from :mod:`orchestrator.asl.flows`."""
    return {**dict(context.variables.items()), "states": {"input": data, "context": dict(context)}}


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


__all__ = ["ConditionRule", "JsonataError", "bindings"]
