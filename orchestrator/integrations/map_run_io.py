"""A Distributed Map's own S3 reads and writes, made by the service through the aws target:
an ItemReader's object, an S3 Inventory manifest's items (``InputType`` MANIFEST: the
manifest, then the gzipped CSV data files it lists) and each of a ResultWriter's files
(laid out by :mod:`.result_writer`).

They move bytes, not an SDK integration's JSON values: a data file is gzip, and a results
file is written exactly as laid out. What is read is bounded: an object and an inventory's
items to 2 MiB (the Map Run holds them), the manifest and each data file by their size.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from orchestrator.asl import bounds, item_reader
from orchestrator.asl.errors import StatesError
from orchestrator.asl.map_run import MAX_OBJECT_BYTES
from orchestrator.integrations.aws.call import AwsCaller
from orchestrator.integrations.aws.failures import TaskCallFailed

READER_FAILED = "States.ItemReaderFailed"
WRITER_FAILED = "States.ResultWriterFailed"
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_DATA_FILE_BYTES = 16 * 1024 * 1024  # decompressed; the items are held to 256 KiB anyway


def manifest_items(caller: AwsCaller, parameters: Mapping[str, Any], region: str) -> list[Any]:
    """The items of the S3 Inventory whose manifest ``parameters`` name (Bucket, Key)."""
    bucket, key = str(parameters.get("Bucket")), str(parameters.get("Key"))
    manifest = item_reader.parse_inventory_manifest(
        _text(_read(caller, bucket, key, region, MAX_MANIFEST_BYTES), key)
    )
    items: list[Any] = []
    size = 0
    for data_key in manifest.keys:
        data = _read(caller, manifest.bucket, data_key, region, MAX_DATA_FILE_BYTES)
        if data_key.endswith(".gz"):
            try:
                data = _gunzip(data, MAX_DATA_FILE_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                raise StatesError(READER_FAILED, f"{data_key} is not gzip data: {exc}") from None
        for item in item_reader.items_from_inventory_csv(_text(data, data_key), manifest.schema):
            size += bounds.json_size(item) + 1
            if size > MAX_OBJECT_BYTES:
                raise StatesError(
                    READER_FAILED,
                    f"The S3 inventory lists more than {MAX_OBJECT_BYTES} bytes of items, the"
                    " most an ItemReader reads here (States.DataLimitExceeded).",
                )
            items.append(item)
    return items


def object_text(caller: AwsCaller, parameters: Mapping[str, Any], region: str) -> dict[str, Any]:
    """An ItemReader's S3 object (Bucket, Key), as getObject answers: ``{"Body": text}``."""
    bucket, key = str(parameters.get("Bucket")), str(parameters.get("Key"))
    data = _read(caller, bucket, key, region, MAX_OBJECT_BYTES)
    return {"Body": _text(data, key)}


def write_file(
    caller: AwsCaller, parameters: Mapping[str, Any], key: str, body: str, region: str
) -> None:
    """Put one of a ResultWriter's files (:class:`.result_writer.ResultFiles`) in its bucket."""
    try:
        caller.write_object(str(parameters["Bucket"]), key, body.encode(), region)
    except TaskCallFailed as failed:
        raise StatesError(
            WRITER_FAILED,
            f"Writing s3://{parameters['Bucket']}/{key} failed: {failed.error}: {failed.cause}",
        ) from None


def _read(caller: AwsCaller, bucket: str, key: str, region: str, limit: int) -> bytes:
    try:
        data = caller.read_object(bucket, key, region, limit)
    except TaskCallFailed as failed:
        raise StatesError(READER_FAILED, f"{failed.error}: {failed.cause}") from None
    if len(data) > limit:
        raise StatesError(
            READER_FAILED,
            f"s3://{bucket}/{key} is larger than {limit} bytes, the most an ItemReader reads"
            " here (States.DataLimitExceeded).",
        )
    return data


def _gunzip(data: bytes, limit: int) -> bytes:
    # Bounded: a small file may inflate to gigabytes.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise StatesError(READER_FAILED, f"A data file inflates past {limit} bytes.")
    return out


def _text(data: bytes, key: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatesError(READER_FAILED, f"{key} is not UTF-8 text.") from None
