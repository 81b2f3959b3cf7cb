"""How a large execution state is kept in rows, so that a step writes what it changed.

Most executions have a thread or two: their whole state is one JSON column, written at each
step, which is the cheapest layout for them. An inline Map or a wide Parallel has a thread,
a task token and a timer per item, and the Map's thread holds every item and every result:
written whole at each step, that state costs time and disk in proportion to the items, so a
Map of n items cost n² (4,000 items: 134 s). Past :data:`INLINE_THREADS` threads the state is
split instead:

- the execution's row keeps the state without its maps of threads, tokens and timers;
- each thread is a row of ``parts`` (``t:<id>``); its input, effective input and Map items
  have a row each (``in:``, ``ef:``, ``i:<id>``), written when they change, and each result
  of a Parallel or Map one more (``r:<id>:<index>``);
- each token (``k:<token>``) and timer (``m:<id>``) is a row too.

The interpreter's maps are persistent (:mod:`orchestrator.asl.pmap`): a step shares every
entry it did not change with the state before it, so :meth:`PMap.changes_from` lists what
to write without reading the rest.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from pydantic import TypeAdapter

from orchestrator.asl.execution import ExecutionState, Thread, TimerRef
from orchestrator.asl.pmap import PMap

# A state with more threads than this is split into rows.
INLINE_THREADS = 16
# Left out of the execution's own row when split.
MAPS = frozenset({"threads", "tokens", "timers"})
_HEAD_EXCLUDES = set(MAPS | {"input"})
_THREAD = TypeAdapter(Thread)
_NO_RESULTS: PMap[int, Any] = PMap()
# A thread's data, each in a row of its own (prefix of its key).
DATA_FIELDS = {"input": "in", "effective": "ef", "items": "i"}
_FIELD_OF = {prefix: field for field, prefix in DATA_FIELDS.items()}
_TIMER = TypeAdapter(TimerRef)

Part = tuple[str, bytes | None]  # (key, JSON) to write, or (key, None) to delete


def split_wanted(state: ExecutionState) -> bool:
    """Whether ``state`` is large enough to be kept in rows."""
    return len(state.threads) > INLINE_THREADS


def head(state: ExecutionState) -> str:
    """The execution's own row when split: the state without its maps (and without its
    input, which the row keeps in a column of its own)."""
    return state.model_dump_json(exclude=_HEAD_EXCLUDES)


def all_parts(state: ExecutionState) -> Iterator[Part]:
    """Every row of a state written for the first time."""
    for thread in state.threads.values():
        yield from _thread_parts(thread, None)
    for token, thread_id in state.tokens.items():
        yield f"k:{token}", orjson.dumps(thread_id)
    for timer, ref in state.timers.items():
        yield f"m:{timer}", _TIMER.dump_json(ref)


def changed_parts(state: ExecutionState, previous: ExecutionState) -> Iterator[Part]:
    """The rows a step from ``previous`` to ``state`` changed (deletions as ``None``)."""
    changed, removed = state.threads.changes_from(previous.threads)
    for thread_id in changed:
        yield from _thread_parts(state.threads[thread_id], previous.threads.get(thread_id))
    for thread_id in removed:
        old = previous.threads[thread_id]
        yield f"t:{thread_id}", None
        for field, prefix in DATA_FIELDS.items():
            if getattr(old, field) not in (None, []):
                yield f"{prefix}:{thread_id}", None
        if old.results:
            yield from ((f"r:{thread_id}:{index}", None) for index in old.results)
    tokens, gone = state.tokens.changes_from(previous.tokens)
    yield from ((f"k:{token}", orjson.dumps(state.tokens[token])) for token in tokens)
    yield from ((f"k:{token}", None) for token in gone)
    timers, stopped = state.timers.changes_from(previous.timers)
    yield from ((f"m:{timer}", _TIMER.dump_json(state.timers[timer])) for timer in timers)
    yield from ((f"m:{timer}", None) for timer in stopped)


def _thread_parts(thread: Thread, old: Thread | None) -> Iterator[Part]:
    # The thread's row holds its small fields; its data (a Map thread's input, effective
    # input and items, each as large as the Map's input) and its results have rows of
    # their own, written only when they are new objects: the interpreter replaces a value
    # it changes, and keeps the same object otherwise.
    alone = dataclasses.replace(
        thread,
        input=None,
        effective=None,
        items=[],
        results=None if thread.results is None else _NO_RESULTS,
    )
    yield f"t:{thread.id}", _THREAD.dump_json(alone)
    for field, prefix in DATA_FIELDS.items():
        value = getattr(thread, field)
        before = getattr(old, field) if old is not None else None
        if value is before:
            continue
        if value is None or value == []:
            if before is not None and before != []:
                yield f"{prefix}:{thread.id}", None
        else:
            yield f"{prefix}:{thread.id}", orjson.dumps(value)
    results, before = thread.results, old.results if old is not None else None
    if results is before:
        return
    if results is not None and before is not None:
        changed, removed = results.changes_from(before)
    else:
        changed = list(results) if results is not None else []
        removed = list(before) if before is not None else []
    for index in changed:
        assert results is not None
        yield f"r:{thread.id}:{index}", orjson.dumps(results[index])
    yield from ((f"r:{thread.id}:{index}", None) for index in removed)


def assemble(
    head_json: str | bytes, input_json: str, parts: Iterable[tuple[str, bytes]]
) -> ExecutionState:
    """The state a split execution's rows hold (``input_json``: its input column)."""
    threads: dict[int, Thread] = {}
    data: dict[tuple[str, int], Any] = {}
    results: dict[int, dict[int, Any]] = {}
    tokens: dict[str, int] = {}
    timers: dict[str, TimerRef] = {}
    for key, body in parts:
        kind, _, rest = key.partition(":")
        if kind == "t":
            threads[int(rest)] = _THREAD.validate_json(body)
        elif kind in _FIELD_OF:
            data[_FIELD_OF[kind], int(rest)] = orjson.loads(body)
        elif kind == "r":
            owner, _, index = rest.partition(":")
            results.setdefault(int(owner), {})[int(index)] = orjson.loads(body)
        elif kind == "k":
            tokens[rest] = orjson.loads(body)
        elif kind == "m":
            timers[rest] = _TIMER.validate_json(body)
    for number, thread in threads.items():
        thread.input = data.get(("input", number))
        thread.effective = data.get(("effective", number))
        thread.items = data.get(("items", number), [])
        if thread.results is not None:
            thread.results = PMap(results.get(number, {}))
    document = orjson.loads(head_json)
    document["input"] = json.loads(input_json)  # json: integers of any size stay exact
    state = ExecutionState.model_validate(document)
    return state.model_copy(
        update={"threads": PMap(threads), "tokens": PMap(tokens), "timers": PMap(timers)}
    )
