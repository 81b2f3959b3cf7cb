"""Persistent maps: the same answers as a dict, updates that share all but what changed, and
the JSON shape the execution state always had (older stored states included)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, JsonValue

from orchestrator.asl import interpreter
from orchestrator.asl.execution import ExecutionState, Thread
from orchestrator.asl.pmap import GONE, Draft, PMap, PSet
from tests.asl.bounds_support import LAMBDA, T0, machine, start

keys = st.one_of(st.integers(-5, 5000), st.text(max_size=6))
operations = st.lists(
    st.tuples(st.sampled_from(["set", "discard", "evolve"]), keys, st.integers()), max_size=60
)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_a_pmap_answers_as_a_dict_and_never_changes_once_made(ops: list[Any]) -> None:
    model: dict[Any, int] = {}
    current: PMap[Any, int] = PMap()
    history: list[tuple[PMap[Any, int], dict[Any, int]]] = []
    for op, key, value in ops:
        history.append((current, dict(model)))
        if op == "set":
            current, model[key] = current.set(key, value), value
        elif op == "discard":
            current = current.discard(key)
            model.pop(key, None)
        else:
            changes: dict[Any, Any] = {key: value, value % 7: GONE}  # the later wins a tie
            current = current.evolve(changes)
            for changed, new in changes.items():
                if new is GONE:
                    model.pop(changed, None)
                else:
                    model[changed] = new
        assert len(current) == len(model)
        assert dict(current.items_list()) == model
        assert all(current[k] == v and k in current for k, v in model.items())
    for old, snapshot in history:  # every earlier map is as it was
        assert dict(old.items_list()) == snapshot


def test_changes_from_reads_only_what_changed() -> None:
    big = PMap({i: i for i in range(20_000)})
    later = big.set(7, -7).discard(9).set(30_000, 1).set(11, 11)  # 11 is unchanged
    changed, removed = later.changes_from(big)
    assert sorted(changed) == [7, 30_000] and removed == [9]
    # All but the few nodes on the way to the changed keys are shared, not copied.
    shared = sum(a is b for a, b in zip(later._root, big._root, strict=True))
    assert shared >= 64 - 4  # one root slot for each of the four keys set or removed


def test_iteration_order_is_the_same_in_every_process() -> None:
    # Keys are hashed with CRC-32 (str) or taken as they are (int), never Python's salted hash.
    tokens = PMap({f"token-{i}": i for i in range(50)})
    assert list(tokens)[:3] == list(PMap({f"token-{i}": i for i in reversed(range(50))}))[:3]
    assert list(PMap({3: "c", 1: "a", 2: "b"})) == [1, 2, 3]


def test_a_draft_reads_its_changes_and_freezes_into_a_new_map() -> None:
    base = PMap({1: "a", 2: "b"})
    draft: Draft[int, str] = Draft(base)
    draft[3] = "c"
    assert draft.pop(1) == "a" and draft.pop(1) is None
    draft[2] = "B"
    assert 1 not in draft and draft[2] == "B" and draft.get(3) == "c" and set(draft) == {2, 3}
    assert dict(draft.freeze().items_list()) == {2: "B", 3: "c"}
    assert dict(base.items_list()) == {1: "a", 2: "b"}
    draft.clear()
    assert len(draft.freeze()) == 0


class _Holder(BaseModel):
    names: PMap[str, int] = PMap()
    results: PMap[int, JsonValue] = PMap()
    members: PSet[int] = PSet()


def test_json_shape_is_the_dicts_and_sets_of_before() -> None:
    holder = _Holder(names=PMap({"a": 1}), results=PMap({1: [2]}), members=PSet([4]))
    text = holder.model_dump_json()
    assert text == '{"names":{"a":1},"results":{"1":[2]},"members":[4]}'
    assert _Holder.model_validate_json(text) == holder
    # Results were stored as a list (by index) before they were a map.
    older = _Holder.model_validate_json('{"results": [null, {"x": 1}]}')
    assert older.results == {0: None, 1: {"x": 1}}


def test_an_execution_state_stored_before_reads_back() -> None:
    thread = {
        "id": 0,
        "scope": 0,
        "children": [3, 4],
        "results": [None, 1],
        "items": [],
        "retry_counts": [],
        "timers": [],
    }
    stored = {
        "execution_arn": "arn:e",
        "execution_name": "e",
        "state_machine_arn": "arn:m",
        "state_machine_name": "M",
        "role_arn": "",
        "input": {},
        "start_time": "2026-01-01T00:00:00Z",
        "token_prefix": "p",
        "threads": {"0": thread},
        "tokens": {"p.1": 0},
        "timers": {},
    }
    state = ExecutionState.model_validate(stored)
    root = state.threads[0]
    assert root.children == {3, 4} and root.results == {0: None, 1: 1}
    assert state.tokens["p.1"] == 0 and state.pending == ()
    again = ExecutionState.model_validate_json(state.model_dump_json())
    assert again == state


def test_thread_copy_shares_maps_and_copies_lists() -> None:
    thread = Thread(id=1, scope=0, results=PMap({0: 1}), retry_counts=[1], timers=["t"])
    copy = thread.copy()
    assert copy == thread and copy is not thread
    assert copy.results is thread.results
    copy.timers.append("u")
    copy.retry_counts[0] = 2
    assert thread.timers == ["t"] and thread.retry_counts == [1]
    assert {f.name for f in dataclasses.fields(Thread)} >= {"first_child", "results_bytes"}


def test_key_views_do_set_operations_as_dict_views_do() -> None:
    before = PMap({f"t{i}": i for i in range(500)})
    after = before.discard("t7").set("new", 1)
    assert before.keys() - after.keys() == {"t7"}
    assert after.keys() - before.keys() == {"new"}
    assert after.keys() - {"new"} == before.key_set() - {"t7"}
    assert len(before.keys() & after.keys()) == 499
    assert after.as_dict() == dict(after.items_list()) == dict(after)
    assert set(after) == set(after.keys()) == after.key_set()


def test_a_fan_out_stored_before_set_aside_ids_finishes() -> None:
    """A Map under MaxConcurrency stored by the previous version (a set of children, no
    first_child, results as a list) starts its next items with fresh ids and finishes."""
    m = machine(
        {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": LAMBDA + "F", "End": True}},
                },
                "End": True,
            }
        }
    )
    step = start(m, {"items": [1, 2, 3]})
    root = step.state.threads[0]
    (child,) = [t for t in step.state.threads.values() if t.parent == 0]
    old_root = dataclasses.replace(root, first_child=0, children=PSet([child.id]), results=None)
    stored = json.loads(
        step.state.model_copy(
            update={"threads": step.state.threads.set(0, old_root)}
        ).model_dump_json()
    )
    stored["threads"]["0"]["results"] = [None, None, None]  # the old list form
    state = ExecutionState.model_validate(stored)
    fresh = state.next_thread
    for turn in range(3):
        (dispatch,) = [c for c in step.commands if isinstance(c, interpreter.DispatchTask)]
        step = interpreter.step(
            m, state, interpreter.TaskSucceeded(dispatch.token, 0, dispatch.payload * 10, T0)
        )
        state = step.state
        if turn == 0:  # the next item's thread: a fresh id, in the set of children
            assert fresh in state.threads and state.threads[fresh].index == 1
            assert state.threads[0].children == {fresh}
    assert state.status == "SUCCEEDED" and state.output == [10, 20, 30]
