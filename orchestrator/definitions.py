"""Loading the definitions folder: every ``*.asl.json``, all or nothing."""

from __future__ import annotations

from pathlib import Path

from orchestrator.asl.definition import StateMachine
from orchestrator.asl.errors import DefinitionError, Problem
from orchestrator.asl.loader import load_definition_file


def load_definitions(folder: str | Path) -> dict[str, StateMachine]:
    """Every state machine in ``folder``, by name (the file's stem).

    Raises :class:`DefinitionError` listing every problem of every file when any is invalid,
    so a service never starts with half its definitions.
    """
    directory = Path(folder)
    if not directory.is_dir():
        raise DefinitionError([Problem("NO_DEFINITIONS", "not a folder")], str(directory))
    files = sorted(directory.glob("*.asl.json"))
    if not files:
        raise DefinitionError([Problem("NO_DEFINITIONS", "no *.asl.json file")], str(directory))
    machines: dict[str, StateMachine] = {}
    failures: list[DefinitionError] = []
    for file in files:
        try:
            machine = load_definition_file(file)
        except DefinitionError as exc:
            failures.append(exc)
            continue
        machines[machine.name] = machine
    if failures:
        raise DefinitionErrors(failures)
    return machines


class DefinitionErrors(DefinitionError):
    """Several files were rejected; ``str()`` lists each file's problems."""

    def __init__(self, failures: list[DefinitionError]) -> None:
        problems = [p for failure in failures for p in failure.problems]
        super().__init__(problems, ", ".join(f.source for f in failures))
        self.failures = failures
        self.args = ("\n".join(str(failure) for failure in failures),)

    def __str__(self) -> str:
        return str(self.args[0])
