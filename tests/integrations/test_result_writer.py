"""The files a Distributed Map's ResultWriter puts in S3, as AWS lays them out."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.asl.errors import StatesError
from orchestrator.asl.execution import ExecutionState
from orchestrator.integrations import result_writer
from orchestrator.integrations.map_run_io import _gunzip

RUN = "arn:aws:states:us-east-1:123456789012:mapRun:M/L:7c9d3f2a-1111-4222-8333-444455556666"
PARAMETERS: dict[str, Any] = {"MapRunArn": RUN, "Bucket": "out", "Prefix": "jobs/"}


def child(name: str, status: str, output: Any = None, **fields: Any) -> ExecutionState:
    return ExecutionState(
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:M/L:{name}",
        execution_name=name,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:M/L",
        state_machine_name="M/L",
        role_arn="",
        input={"n": name},
        start_time=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        stop_time=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
        token_prefix="x" * 32,
        status=status,  # type: ignore[arg-type]
        output=output,
        **fields,
    )


def test_the_details_name_the_manifest_under_the_prefix_and_run_id() -> None:
    assert result_writer.details(PARAMETERS) == {
        "MapRunArn": RUN,
        "ResultWriterDetails": {
            "Bucket": "out",
            "Key": "jobs/7c9d3f2a-1111-4222-8333-444455556666/manifest.json",
        },
    }


def test_files_hold_each_outcome_and_the_manifest_lists_them_with_their_sizes() -> None:
    children = [
        child("a", "SUCCEEDED", {"ok": 1}),
        child("b", "FAILED", error="Boom", cause="why"),
        child("c", "ABORTED"),
        child("d", "SUCCEEDED", [1, 2]),
    ]
    written = {key: json.loads(text) for key, text in result_writer.files(PARAMETERS, children)}
    base = "jobs/7c9d3f2a-1111-4222-8333-444455556666/"
    assert list(written) == [
        base + "SUCCEEDED_0.json",
        base + "FAILED_0.json",
        base + "manifest.json",
    ]
    succeeded = written[base + "SUCCEEDED_0.json"]
    assert [json.loads(e["Output"]) for e in succeeded] == [{"ok": 1}, [1, 2]]
    assert succeeded[0]["StartDate"] == "2026-01-02T03:04:05.678Z"
    assert succeeded[0]["Input"] == '{"n":"a"}' and succeeded[0]["Status"] == "SUCCEEDED"
    failed = written[base + "FAILED_0.json"]
    assert [(e["Status"], e.get("Error")) for e in failed] == [
        ("FAILED", "Boom"),
        ("ABORTED", None),
    ]
    assert "Output" not in failed[0]
    manifest = written[base + "manifest.json"]
    assert manifest["DestinationBucket"] == "out" and manifest["MapRunArn"] == RUN
    assert manifest["ResultFiles"]["PENDING"] == []
    (listed,) = manifest["ResultFiles"]["SUCCEEDED"]
    texts = dict(result_writer.files(PARAMETERS, children))
    assert listed == {
        "Key": base + "SUCCEEDED_0.json",
        "Size": len(texts[base + "SUCCEEDED_0.json"].encode()),
    }


def test_compact_keeps_outputs_and_flatten_spreads_arrays() -> None:
    children = [child("a", "SUCCEEDED", {"ok": 1}), child("d", "SUCCEEDED", [1, 2])]
    for transformation, expected in (
        ("COMPACT", [{"ok": 1}, [1, 2]]),
        ("FLATTEN", [{"ok": 1}, 1, 2]),
    ):
        parameters = {**PARAMETERS, "WriterConfig": {"Transformation": transformation}}
        written = result_writer.files(parameters, children)
        assert json.loads(written[0][1]) == expected
    lines = {**PARAMETERS, "WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"}}
    key, text = result_writer.files(lines, children)[0]
    assert key.endswith("SUCCEEDED_0.jsonl")
    assert [json.loads(line) for line in text.splitlines()] == [{"ok": 1}, [1, 2]]


def test_a_data_file_that_inflates_past_its_bound_is_refused() -> None:
    bomb = gzip.compress(b"0" * 5_000_000)  # 5 MB of zeros in a few kilobytes
    assert len(bomb) < 10_000
    assert _gunzip(bomb, 6_000_000) == b"0" * 5_000_000
    with pytest.raises(StatesError) as refused:
        _gunzip(bomb, 1_000_000)
    assert refused.value.error == "States.ItemReaderFailed"


def test_a_file_is_ready_once_full_so_what_is_held_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(result_writer, "FILE_BYTES", 1000)
    written = result_writer.ResultFiles(PARAMETERS)
    ready: list[tuple[str, str]] = []
    for page in range(5):  # five pages of ten children, as the service reads them
        ready += written.add(child(f"c{page}{i}", "SUCCEEDED", {"n": i}) for i in range(10))
        assert sum(written.sizes.values()) < 1000 + 2000  # no more than a file and a child
    assert ready, "full files are handed out before the end"
    ready += written.finish()
    base = "jobs/7c9d3f2a-1111-4222-8333-444455556666/"
    keys = [key for key, _ in ready]
    assert keys[-1] == base + "manifest.json"
    numbered = [k for k in keys if "SUCCEEDED_" in k]
    assert numbered == [base + f"SUCCEEDED_{n}.json" for n in range(len(numbered))]
    assert len(numbered) > 1
    bodies = dict(ready)
    names = [e["Name"] for key in numbered for e in json.loads(bodies[key])]
    assert names == [f"c{page}{i}" for page in range(5) for i in range(10)]
    manifest = json.loads(bodies[base + "manifest.json"])
    assert [f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"]] == numbered
    assert all(
        f["Size"] == len(bodies[f["Key"]].encode()) for f in manifest["ResultFiles"]["SUCCEEDED"]
    )
