"""The Distributed Map's ItemBatcher (orchestrator/asl/item_batcher.py): batch shape, the item
and byte limits, the checks of values read at run time, and the two recorded batching runs
of the conformance corpus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from orchestrator.asl.errors import StatesError
from orchestrator.asl.item_batcher import (
    BATCH_TOO_LARGE_ERROR,
    MAX_BATCH_BYTES,
    batch_bytes,
    batches,
    check_batcher_limits,
)
from tests.asl.test_item_reader import corpus_records, map_result


@contextmanager
def _fails(error: str, cause: str) -> Iterator[None]:
    """Expects a StatesError with this error and exactly this cause."""
    with pytest.raises(StatesError) as raised:
        yield
    assert (raised.value.error, raised.value.cause) == (error, cause)


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _sizes(result: list[dict[str, Any]]) -> list[int]:
    return [len(batch["Items"]) for batch in result]


# -- Shape and MaxItemsPerBatch --------------------------------------------------------------


def test_items_go_in_order_into_batches_of_at_most_max_items() -> None:
    result = batches(list(range(10)), 3, None, None)
    assert result == [
        {"Items": [0, 1, 2]},
        {"Items": [3, 4, 5]},
        {"Items": [6, 7, 8]},
        {"Items": [9]},
    ]
    assert batches(list(range(4)), 4, None, None) == [{"Items": [0, 1, 2, 3]}]
    assert batches(list(range(4)), 1, None, None) == [{"Items": [n]} for n in range(4)]
    assert batches([], 3, None, None) == []


def test_batch_input_comes_first_in_every_batch() -> None:
    result = batches(["a", "b", "c"], 2, None, {"factCheck": "December 2022"})
    assert result == [
        {"BatchInput": {"factCheck": "December 2022"}, "Items": ["a", "b"]},
        {"BatchInput": {"factCheck": "December 2022"}, "Items": ["c"]},
    ]
    assert all(list(batch) == ["BatchInput", "Items"] for batch in result)
    assert list(batches(["a"], 2, None, None)[0]) == ["Items"]  # None: no BatchInput key
    assert batches(["a"], 2, None, 0) == [{"BatchInput": 0, "Items": ["a"]}]


# -- MaxInputBytesPerBatch --------------------------------------------------------------------


def test_a_batch_holds_at_most_max_bytes_of_json() -> None:
    items = ["x" * 10] * 5  # each item is 12 bytes of JSON: {"Items":["xxxxxxxxxx"]} is 24
    assert batch_bytes({"Items": items[:1]}) == 24 == len(_compact({"Items": items[:1]}))
    assert len(_compact({"Items": items[:2]})) == 37
    assert _sizes(batches(items, None, 37, None)) == [2, 2, 1]  # exactly at the limit: fits
    assert _sizes(batches(items, None, 36, None)) == [1, 1, 1, 1, 1]
    assert _sizes(batches(items, None, 1000, None)) == [5]
    for batch in batches(items, None, 50, None):
        assert len(_compact(batch)) <= 50


def test_batch_input_counts_toward_the_byte_limit() -> None:
    items = ["x" * 10] * 4
    batch_input = {"a": 1}
    two = {"BatchInput": batch_input, "Items": items[:2]}
    assert len(_compact(two)) == 58
    assert _sizes(batches(items, None, 58, batch_input)) == [2, 2]
    assert _sizes(batches(items, None, 57, batch_input)) == [1, 1, 1, 1]
    assert len(_compact({"Items": items})) == 63
    assert _sizes(batches(items, None, 58, None)) == [3, 1]  # without it, three fit
    assert _sizes(batches(items, None, 63, None)) == [4]


def test_bytes_are_utf8_bytes() -> None:
    items = ["é" * 10] * 3  # 10 characters, 20 bytes, 22 with the quotes
    assert len(_compact({"Items": items[:1]})) == 34
    assert _sizes(batches(items, None, 34, None)) == [1, 1, 1]
    assert _sizes(batches(items, None, 57, None)) == [2, 1]


def test_the_smaller_limit_closes_the_batch() -> None:
    items = ["x" * 10] * 6
    assert _sizes(batches(items, 2, 1000, None)) == [2, 2, 2]
    assert _sizes(batches(items, 5, 50, None)) == [3, 3]


def test_no_byte_limit_is_256_kib_and_larger_ones_are_held_to_it() -> None:
    assert MAX_BATCH_BYTES == 256 * 1024
    items = ["x" * 100_000] * 5  # two fit in 256 KiB, three do not
    assert _sizes(batches(items, None, None, None)) == [2, 2, 1]
    assert _sizes(batches(items, 10, None, None)) == [2, 2, 1]
    assert _sizes(batches(items, None, 10**9, None)) == [2, 2, 1]


def test_an_item_too_large_for_a_batch_fails() -> None:
    cause = (
        "The item at index 1 makes a batch of 24 bytes, more than the 20 bytes a batch may"
        " hold (MaxInputBytesPerBatch)."
    )
    with _fails(BATCH_TOO_LARGE_ERROR, cause):
        batches(["", "x" * 10], None, 20, None)
    assert BATCH_TOO_LARGE_ERROR == "States.ItemReaderFailed"
    with pytest.raises(StatesError):
        batches(["x" * MAX_BATCH_BYTES], 1, None, None)


# -- Values read at run time ------------------------------------------------------------------


def test_limits_as_given_are_checked() -> None:
    assert check_batcher_limits(None, None) == (None, None)
    assert check_batcher_limits(2, 15000) == (2, 15000)
    # A variable assigned text (recorded: "2" and "15000" batch by 2).
    assert check_batcher_limits("2", "15000", items_path="$a", bytes_path="$b") == (2, 15000)
    assert check_batcher_limits(None, MAX_BATCH_BYTES + 1) == (None, MAX_BATCH_BYTES)


@pytest.mark.parametrize(("value", "shown"), [(1.5, "1.5"), ("x", "x"), ({}, "{}"), (True, "true")])
def test_a_limit_that_is_no_integer_is_a_runtime_error(value: Any, shown: str) -> None:
    with _fails(
        "States.Runtime",
        f'The MaxItemsPerBatchPath field refers to value "{shown}" which is not a valid'
        " integer: $.n",
    ):
        check_batcher_limits(value, None, items_path="$.n")
    with _fails(
        "States.Runtime",
        f'The MaxInputBytesPerBatch field refers to value "{shown}" which is not a valid integer',
    ):
        check_batcher_limits(None, value)


@pytest.mark.parametrize("value", [0, -1, "0"])
def test_a_limit_below_one_is_a_runtime_error(value: Any) -> None:
    with _fails(
        "States.Runtime",
        f'The MaxItemsPerBatchPath field refers to value "{int(value)}" which is not a positive'
        " integer: $.n",
    ):
        check_batcher_limits(value, None, items_path="$.n")
    with pytest.raises(StatesError):
        check_batcher_limits(None, value)


# -- The recorded batching runs ----------------------------------------------------------------


@pytest.mark.parametrize("record_id", ["c16ba1d70249", "7f4d125d3ea2"])
def test_recorded_batches(record_id: str) -> None:
    records = {record["id"]: record for record in corpus_records()}
    record = records[record_id]
    status, output = map_result(record)
    assert status == record["expected"]["status"] == "SUCCEEDED"
    assert all(list(batch)[-1] == "Items" for batch in output)
    # The recorded Map output (the BatchInput's timestamp was masked as "date").
    for batch in output:
        if "BatchInput" in batch:
            batch["BatchInput"] = {"BatchTimestamp": "date"}
    exited = [e for e in record["events"] if e["type"] == "MapStateExited"][-1]
    assert json.dumps(output, separators=(",", ":")) == exited["details"]["output"]
    assert output == record["expected"]["output"]


def test_batches_checks_raw_limits_itself() -> None:
    assert _sizes(batches(list(range(5)), "2", None, None)) == [2, 2, 1]  # type: ignore[arg-type]
    with _fails(
        "States.Runtime",
        'The MaxItemsPerBatch field refers to value "1.5" which is not a valid integer',
    ):
        batches([1], 1.5, None, None)  # type: ignore[arg-type]
