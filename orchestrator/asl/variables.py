"""Workflow variables (``Assign``): where they live and how a path finds them.

A thread (the top level, a Parallel branch, a Map iteration) holds the variables assigned in
it; a state reads those of its own thread first, then its parents' (AWS: an inner scope sees
the outer variables, and its own assignments stay in it). The context object a state's paths
read carries the variables in scope as :attr:`Context.variables`, outside the ``$$`` data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any


class Context(dict[str, Any]):
    """The context object (``$$``), with the variables in scope beside it (not in it)."""

    __slots__ = ("variables",)

    def __init__(self, fields: Mapping[str, Any], variables: Variables) -> None:
        super().__init__(fields)
        self.variables = variables


class Variables(Mapping[str, Any]):
    """The variables in scope: each scope's, innermost first (a read-only view).

    ``scopes`` may be a function that finds them: it is called on the first read only, so a
    state whose fields read no variable costs nothing (a Task on the hot path).
    """

    __slots__ = ("_found", "_scopes")

    def __init__(
        self, scopes: Sequence[Mapping[str, Any]] | Callable[[], Sequence[Mapping[str, Any]]]
    ) -> None:
        self._found: Sequence[Mapping[str, Any]] | None = None if callable(scopes) else scopes
        self._scopes = scopes

    @property
    def scopes(self) -> Sequence[Mapping[str, Any]]:
        """The scopes, innermost first."""
        if self._found is None:
            finder = self._scopes
            assert callable(finder)
            self._found = finder()
        return self._found

    def __getitem__(self, name: str) -> Any:
        for scope in self.scopes:
            if name in scope:
                return scope[name]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(name in scope for scope in self.scopes)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for scope in self.scopes:
            for name in scope:
                if name not in seen:
                    seen.add(name)
                    yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)
