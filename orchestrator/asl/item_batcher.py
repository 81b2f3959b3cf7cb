"""A Distributed Map's ``ItemBatcher``: items grouped into the batches child executions get.

Pure and synchronous. A batch is ``{"Items": [...]}``, or ``{"BatchInput": ..., "Items":
[...]}`` when the ItemBatcher has a BatchInput (that key order is AWS's, recorded in the
conformance corpus and shown in AWS's guide, "ItemBatcher (Map)"). Items keep their order:
batches are filled one after another, each up to ``MaxItemsPerBatch`` items and up to
``MaxInputBytesPerBatch`` bytes.

AWS's guide: "Specifies the maximum size of a batch in bytes, up to 256 KiB", and "if you
use batching and don't specify a maximum batch size, the interpreter processes as many items
it can process up to 256 KiB". The size counted here is that of the batch's compact JSON (in
UTF-8), the child execution's input, BatchInput included: that input is what the 256 KiB
limit holds.
"""

from __future__ import annotations

import re
from typing import Any

from messages.limits import MAX_PAYLOAD_BYTES
from orchestrator.asl import bounds, errors, item_reader
from orchestrator.asl.errors import StatesError

# The largest batch AWS makes (256 KiB), and the batch size when none is given.
MAX_BATCH_BYTES = MAX_PAYLOAD_BYTES
# What a batch of one item too large for the byte limit fails with. AWS's recordings have no
# such case; the Map Run fails as when its items cannot be read.
BATCH_TOO_LARGE_ERROR = "States.ItemReaderFailed"
# Java's parseInt range: a value read through a Path outside it is no integer to AWS.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_JAVA_INT = re.compile(r"[+-]?\d+")
# The JSON text around a batch's items, without and with BatchInput.
_ITEMS_OPEN = '{"Items":['
_BATCH_INPUT_OPEN = '{"BatchInput":'
_CLOSE = "]}"


_shown = item_reader.shown


def _limit(value: Any, field: str, path: str | None) -> int | None:
    """One ItemBatcher limit as an integer of at least 1 (None: not given)."""
    if value is None:
        return None
    number = value
    if isinstance(number, str) and _JAVA_INT.fullmatch(number):
        number = int(number)  # a variable assigned "2" batches by 2 (recorded)
    name = f"{field}Path" if path is not None else field
    where = f": {path}" if path is not None else ""
    if (
        not isinstance(number, int)
        or isinstance(number, bool)
        or not _INT_MIN <= number <= _INT_MAX
    ):
        raise StatesError(
            errors.RUNTIME,
            f'The {name} field refers to value "{_shown(value)}" which is not a valid integer{where}',
        )
    if number <= 0:
        # AWS's guide: the value "must resolve to a positive integer".
        raise StatesError(
            errors.RUNTIME,
            f'The {name} field refers to value "{number}" which is not a positive integer{where}',
        )
    return number


def check_batcher_limits(
    max_items: Any,
    max_bytes: Any,
    *,
    items_path: str | None = None,
    bytes_path: str | None = None,
) -> tuple[int | None, int | None]:
    """MaxItemsPerBatch and MaxInputBytesPerBatch as given (literals, what their ``...Path``
    read, or JSONata results), checked: each None (not given) or an integer of at least 1;
    a whole number written as text ("2") counts as that number.

    Pass the Path's text as ``items_path``/``bytes_path`` when the value came from one: the
    cause names it. Anything else raises ``States.Runtime`` (the interpreter prefixes the
    state). AWS's recordings have no such failure: the causes follow AWS's for MaxItemsPath
    ('The MaxItemsPath field refers to value "1.5" which is not a valid integer: $.MaxItems').
    A byte limit past 256 KiB is held to 256 KiB, as MaxItemsPath values past AWS's
    maximum are held to it.
    """
    items = _limit(max_items, "MaxItemsPerBatch", items_path)
    size = _limit(max_bytes, "MaxInputBytesPerBatch", bytes_path)
    return items, None if size is None else min(size, MAX_BATCH_BYTES)


def batches(
    items: list[Any], max_items: int | None, max_bytes: int | None, batch_input: Any
) -> list[dict[str, Any]]:
    """``items`` in batches, in order: each ``{"Items": [...]}`` (``"BatchInput"`` first
    when ``batch_input`` is not None) of at most ``max_items`` items and at most
    ``max_bytes`` bytes of JSON (held to 256 KiB; None: 256 KiB), limits as
    :func:`check_batcher_limits` returns them (other values are checked
    here too, with causes that name no Path).

    A batch is closed when the next item would pass either limit. An item too large to
    make a batch alone fails with :data:`BATCH_TOO_LARGE_ERROR`.
    """
    # Checked again (a no-op for checked limits) so a raw value never breaks the loop; check
    # them first with check_batcher_limits for causes that name the Path.
    max_items, max_bytes = check_batcher_limits(max_items, max_bytes)
    ceiling = MAX_BATCH_BYTES if max_bytes is None else max_bytes
    # The bytes of a batch with no items: its braces, "Items" and BatchInput.
    if batch_input is None:
        empty = len(_ITEMS_OPEN) + len(_CLOSE)
    else:
        empty = (
            len(_BATCH_INPUT_OPEN) + bounds.json_size(batch_input) + len(',"Items":[') + len(_CLOSE)
        )
    result: list[dict[str, Any]] = []
    current: list[Any] = []
    size = empty
    for index, item in enumerate(items):
        item_bytes = bounds.json_size(item)
        # A comma goes before every item but the first.
        full = max_items is not None and len(current) >= max_items
        if current and (full or size + 1 + item_bytes > ceiling):
            result.append(_batch(current, batch_input))
            current, size = [], empty
        if not current and size + item_bytes > ceiling:
            raise StatesError(
                BATCH_TOO_LARGE_ERROR,
                f"The item at index {index} makes a batch of {size + item_bytes} bytes, more"
                f" than the {ceiling} bytes a batch may hold (MaxInputBytesPerBatch).",
            )
        size += item_bytes + (1 if current else 0)
        current.append(item)
    if current:
        result.append(_batch(current, batch_input))
    return result


def _batch(items: list[Any], batch_input: Any) -> dict[str, Any]:
    if batch_input is None:
        return {"Items": items}
    return {"BatchInput": batch_input, "Items": items}


def batch_bytes(batch: dict[str, Any]) -> int:
    """The size :func:`batches` gives a batch: the bytes of its compact UTF-8 JSON."""
    return bounds.json_size(batch)
