"""What a data flow needs of the interpreter's run (:class:`Host`), and what each flow
provides (:class:`DataFlow`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from orchestrator.asl.definition import (
    AnyState,
    Catcher,
    FailState,
    MapState,
    ParallelState,
    TaskState,
    WaitState,
)
from orchestrator.asl.execution import Thread
from orchestrator.asl.paths import Path
from orchestrator.asl.variables import Context, Variables


class Host(Protocol):
    """The run a flow works in: the clock, randomness, ``$$``, variables and paths."""

    now: datetime
    assigned: dict[int, dict[str, Any]]

    def draw(self) -> random.Random:
        """A generator for one use."""

    def context(self, thread: Thread, state: AnyState) -> Context:
        """``$$`` (``$states.context``) for ``state`` in ``thread``, with its variables."""

    def variables(self, thread: Thread) -> Variables:
        """The variables ``thread`` sees."""

    def render(
        self,
        template: Any,
        field: str,
        data: Any,
        thread: Thread,
        state: AnyState,
        map_item: dict[str, Any] | None = None,
    ) -> Any:
        """A JSONPath template rendered over ``data``."""

    def read(self, path: Path | None, thread: Thread, state: AnyState, data: Any) -> Any:
        """InputPath/OutputPath applied to ``data``."""

    def select(self, path: Path, thread: Thread, state: AnyState, data: Any) -> Any:
        """What ``path`` selects (raises PathNotFound)."""


@dataclass(frozen=True)
class TaskCall:
    """What a Task attempt sends, and its limits."""

    arguments: Any
    timeout: int | None
    heartbeat: int | None
    credentials: Any


class DataFlow(Protocol):
    """One query language's data flow. Methods raise ``StatesError`` for a failure of the
    state; values a state assigns are left in ``host.assigned`` (set as the state exits)."""

    def exit(
        self, host: Host, thread: Thread, state: AnyState, data: Any
    ) -> tuple[str | None, Any]:
        """A Pass, Choice, Succeed or Wait (after its wait) state's next state and output."""

    def wait_seconds(self, host: Host, thread: Thread, state: WaitState, data: Any) -> float:
        """How long a Wait state waits."""

    def fail_fields(
        self, host: Host, thread: Thread, state: FailState, data: Any
    ) -> tuple[str | None, str | None]:
        """A Fail state's error and cause."""

    def task_call(self, host: Host, thread: Thread, state: TaskState) -> TaskCall:
        """What a Task attempt sends (from ``thread.input``)."""

    def fan_out_input(
        self, host: Host, thread: Thread, state: ParallelState | MapState, data: Any
    ) -> Any:
        """A Parallel's branch input, or what a Map reads its items from."""

    def map_items(self, host: Host, thread: Thread, state: MapState) -> list[Any]:
        """The items a Map iterates over."""

    def map_limits(
        self, host: Host, thread: Thread, state: MapState, count: int
    ) -> tuple[int, float | None]:
        """A Map's concurrency (0: none) and the failures it tolerates (None: none)."""

    def map_item(self, host: Host, thread: Thread, state: MapState, index: int, item: Any) -> Any:
        """An iteration's input."""

    def reader_call(self, host: Host, thread: Thread, state: MapState) -> tuple[Any, Any]:
        """A Distributed Map's ItemReader: the S3 call's arguments and ReaderConfig's
        MaxItems as given (None: none), to be checked by the reader."""

    def writer_call(self, host: Host, thread: Thread, state: MapState) -> Any:
        """A Distributed Map's ResultWriter: where its results go (Bucket, Prefix)."""

    def batcher_fields(self, host: Host, thread: Thread, state: MapState) -> tuple[Any, Any, Any]:
        """A Distributed Map's ItemBatcher: MaxItemsPerBatch, MaxInputBytesPerBatch and
        BatchInput as given (None: not given), to be checked by the batcher."""

    def result(
        self,
        host: Host,
        thread: Thread,
        state: TaskState | ParallelState | MapState,
        result: Any,
    ) -> Any:
        """A Task's, Parallel's or Map's output from its result."""

    def caught(
        self,
        host: Host,
        thread: Thread,
        state: TaskState | ParallelState | MapState,
        catcher: Catcher,
        error_output: Any,
    ) -> Any:
        """The output a catcher passes on from the error output."""
