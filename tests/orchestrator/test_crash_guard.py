"""The crash-loop breaker's verdicts: a lone message that died once runs again (a kill -9 may
have landed on it); one that died alone twice is set aside."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.service.crash_guard import CRASHED, CrashGuard


def died_applying(tmp_path: Path, keys: list[str]) -> CrashGuard:
    """The guard a new process gets after one that died applying ``keys``."""
    (tmp_path / "sfn.db.applying").write_text(json.dumps({"keys": keys}))
    return CrashGuard(tmp_path / "sfn.db")


def test_a_lone_message_runs_again_after_one_death_and_is_set_aside_after_two(
    tmp_path: Path,
) -> None:
    guard = died_applying(tmp_path, ["m1"])
    assert guard.verdict("m1") == "alone"
    assert guard.verdict("other") == "apply"
    guard.close()
    guard = died_applying(tmp_path, ["m1"])
    assert guard.verdict("m1") == "set aside"
    assert guard.reason("m1").startswith(f"{CRASHED}: the process died 2 times")
    guard.close()


def test_a_message_that_died_in_company_runs_alone_and_one_that_survives_is_cleared(
    tmp_path: Path,
) -> None:
    guard = died_applying(tmp_path, ["a", "b", "c"])
    assert [guard.verdict(k) for k in "abc"] == ["alone", "alone", "alone"]
    guard.survived("b")
    assert guard.verdict("b") == "apply"
    guard.close()
