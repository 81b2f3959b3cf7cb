"""bench.broker_wal: telling which measured runs spanned a rollover of the broker's quorum WAL."""

from __future__ import annotations

from pathlib import Path

from bench.broker_wal import current_wal, rolled_over
from bench.compare import rollover_note


def test_the_highest_numbered_wal_is_the_one_being_written(tmp_path: Path) -> None:
    node = tmp_path / "mnesia" / "rabbit@host" / "quorum" / "rabbit@host"
    node.mkdir(parents=True)
    (node / "00000009.wal").write_bytes(b"x" * 10)
    (node / "00000010.wal").write_bytes(b"x" * 3)
    pattern = str(tmp_path / "mnesia" / "*" / "quorum" / "*" / "*.wal")
    assert current_wal(pattern) == {"file": "00000010.wal", "bytes": 3}
    assert current_wal(str(tmp_path / "nowhere" / "*.wal")) is None


def test_a_new_file_between_two_looks_is_a_rollover() -> None:
    first = {"file": "00000003.wal", "bytes": 500}
    assert rolled_over(first, {"file": "00000003.wal", "bytes": 900}) is False
    assert rolled_over(first, {"file": "00000004.wal", "bytes": 10}) is True
    assert rolled_over(None, first) is None


def test_the_note_names_the_runs_that_spanned_a_rollover() -> None:
    summary = {"broker_wal_rolled_over": {"ours": [False, True], "ceiling": [False, False]}}
    half_peak = {"runs": [{"broker_wal_rolled_over": False}, {"broker_wal_rolled_over": True}]}
    note = rollover_note(summary, half_peak)
    assert "ours round 2" in note and "ours at half peak, run 2" in note
    assert "ceiling" not in note and "unknown" not in note
    calm = {"broker_wal_rolled_over": {"ours": [False]}}
    assert rollover_note(calm, None) == "broker WAL rollovers: none during the measured runs"
    unseen = {"broker_wal_rolled_over": {"ours": [None, False]}}
    assert "unknown for 1 of 2" in rollover_note(unseen, None)
