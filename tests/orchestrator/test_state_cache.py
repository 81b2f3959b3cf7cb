"""The store's cache of states follows its transactions: what a rollback undoes, the cache
forgets, and what it keeps is what the file holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import messages
from orchestrator.asl.loader import load_definition
from orchestrator.engine import Engine
from orchestrator.store import SqliteStore
from orchestrator.store.cache import StagedCache

WAIT = {
    "StartAt": "W",
    "States": {
        "W": {"Type": "Wait", "Seconds": 5, "Next": "P"},
        "P": {"Type": "Pass", "End": True},
    },
}


def test_levels_join_below_on_release_and_vanish_on_rollback() -> None:
    cache: StagedCache[str, int] = StagedCache(capacity=10)
    cache.begin()
    cache.stage("a", 1)
    cache.begin()  # a savepoint
    cache.stage("a", 2)
    cache.stage("b", 3)
    assert (cache.get("a"), cache.get("b")) == (2, 3)
    cache.rollback()
    assert (cache.get("a"), cache.get("b")) == (1, None)
    cache.begin()
    cache.stage("c", 4)
    cache.release()
    cache.release()  # the outermost committed
    assert (cache.get("a"), cache.get("c")) == (1, 4)
    cache.begin()
    cache.stage("a", None)
    cache.stage("d", 5)
    cache.rollback()
    assert (cache.get("a"), cache.get("d")) == (1, None)


def test_the_least_recently_used_entries_go_first() -> None:
    cache: StagedCache[int, int] = StagedCache(capacity=3)
    for key in range(3):
        cache.remember(key, key)
    cache.get(0)
    cache.remember(3, 3)
    assert [cache.get(key) for key in range(4)] == [0, None, 2, 3]


def test_a_step_rolled_back_leaves_the_cached_state_as_the_file_has_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sfn.db")
    engine = Engine({"Waiting": load_definition(json.dumps(WAIT), name="Waiting")}, store)
    engine.start(messages.IntakeRequest(state_machine="Waiting", execution_name="w", input={}))
    [before] = store.executions()
    [timer] = [t for t, ref in before.timers.items() if ref.kind == "wait"]
    with pytest.raises(RuntimeError), store.batch():
        engine.fire_timer(timer, before.execution_arn)  # steps to SUCCEEDED, then...
        raise RuntimeError("the batch fails after the step")
    cached = store.execution_by_arn(before.execution_arn)
    assert cached is not None and cached.state == before
    assert cached.state.status == "RUNNING" and timer in cached.state.timers
    fresh = SqliteStore(tmp_path / "sfn.db")
    assert fresh.executions()[0] == before  # the file agrees
