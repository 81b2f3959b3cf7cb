"""ASL error names, the runtime error that carries one, and definition problems.

Error names are copied from the Amazon States Language specification ("Errors"); the
matching rules for Retry/Catch live next to the names so they are written down once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
BRANCH_FAILED = "States.BranchFailed"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
PERMISSIONS = "States.Permissions"

# States.ALL matches every error but States.Runtime. (The spec also exempts
# States.DataLimitExceeded, but AWS's recorded runs show States.ALL catching it.)
_NOT_MATCHED_BY_ALL = frozenset({RUNTIME})
# States.TaskFailed matches any Task failure except a timeout.
_NOT_MATCHED_BY_TASK_FAILED = frozenset({TIMEOUT, HEARTBEAT_TIMEOUT, *_NOT_MATCHED_BY_ALL})


def error_matches(error: str, error_equals: Sequence[str]) -> bool:
    """Whether a Retry/Catch ``ErrorEquals`` list matches ``error`` (AWS's rules)."""
    for name in error_equals:
        if name == error:
            return True
        if name == ALL and error not in _NOT_MATCHED_BY_ALL:
            return True
        if name == TASK_FAILED and error not in _NOT_MATCHED_BY_TASK_FAILED:
            return True
    return False


class StatesError(Exception):
    """A runtime failure with an ASL error name and a cause, as an execution reports it."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition, and where it is.

    ``pointer`` is a JSON Pointer into the definition (``/States/Open Case/Next``); ``line``
    and ``column`` (1-based) locate it in the source text when the text is known.
    """

    code: str
    message: str
    pointer: str = ""
    line: int | None = None
    column: int | None = None

    @property
    def state(self) -> str | None:
        """The state the problem is in, when the pointer is inside ``/States/<name>``."""
        parts = self.pointer.split("/")
        if len(parts) >= 3 and parts[1] == "States":
            return parts[2].replace("~1", "/").replace("~0", "~")
        return None

    def describe(self, source: str = "") -> str:
        """One human-readable line: ``file:line:col: CODE at /path (state 'X'): message``."""
        place = source
        if self.line is not None:
            place += f":{self.line}:{self.column}"
        where = f" at {self.pointer or '/'}" if self.pointer or self.line is None else ""
        state = f" (state {self.state!r})" if self.state else ""
        prefix = f"{place}: " if place else ""
        return f"{prefix}{self.code}{where}{state}: {self.message}"


def abbreviate(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut in the middle when longer than ``limit`` characters.

    Messages quote what they refuse; a definition may hold a path or call of a megabyte.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}...[{len(text) - 2 * half} more characters]...{text[-half:]}"


class DefinitionError(ValueError):
    """A definition was rejected; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join("  " + p.describe(source) for p in self.problems)
        what = source or "definition"
        super().__init__(f"{what}: {len(self.problems)} problem(s)\n{lines}")
