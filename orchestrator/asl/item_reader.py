"""A Distributed Map's ``ItemReader``: the items of what S3 returned, as AWS makes them.

Pure and synchronous: the caller makes the S3 call (``s3:getObject`` or
``s3:listObjectsV2``) and hands its result here; nothing here reads, waits or logs.

What AWS does was taken from its recorded runs (the ``s3_item_reader`` records of the
conformance corpus, ``integrations.jsonl``) and, where they say nothing, from AWS's guide
("ItemReader (Map)", "How Step Functions parses input CSV files"):

- ``JSON``: the object must be a JSON array (else ``States.ItemReaderFailed``, "Attempting to
  map over non-iterable node."); its elements are the items, objects keeping their key order.
- ``JSONL``: one JSON value per line.
- ``CSV``: each row is an object of header -> string. A row with fewer fields than headers
  gets ``""`` for the missing ones, one with more loses the extra ones; a whitespace-only line
  is a row, the line break that ends the file is not. Duplicate headers fail ("CSV headers
  cannot contain duplicates."). Header names are taken as written (``0``, ``True``, ``{}``).
  AWS builds each row as a ``java.util.HashMap``: the row's keys come out in that map's
  iteration order, reproduced here (it matches every recorded row and the guide's examples).
- ``MaxItems``: 0 means no limit, values past 100,000,000 are held to it, a negative one
  fails the Map Run ("field MaxItems must be positive"), and a non-integer from
  ``MaxItemsPath`` is a ``States.Runtime`` error raised before the Map Run starts.
- ``s3:listObjectsV2``: one item per object, ``{"Etag", "Key", "LastModified", "Size",
  "StorageClass"}`` with the ETag's quotes kept and LastModified in epoch seconds.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from messages import limits
from orchestrator.asl import errors
from orchestrator.asl.errors import StatesError

ITEM_READER_FAILED = "States.ItemReaderFailed"
# AWS's limit on MaxItems ("You can specify a limit of up to 100,000,000"); larger values
# read through MaxItemsPath are held to it (recorded: 100000001 reads every item).
MAX_ITEMS = 100_000_000
# The causes AWS recorded.
NON_ITERABLE_CAUSE = "Attempting to map over non-iterable node."
DUPLICATE_HEADERS_CAUSE = "CSV headers cannot contain duplicates."
NEGATIVE_MAX_ITEMS_CAUSE = "field MaxItems must be positive"

INPUT_TYPES = ("JSON", "JSONL", "CSV", "MANIFEST")
CSV_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
CSV_HEADER_LOCATIONS = ("FIRST_ROW", "GIVEN")
# The fields of an S3 ListObjectsV2 entry a Map iteration gets, in the order AWS's guide
# shows them (botocore spells the ETag "ETag"; AWS hands it on as "Etag").
_LISTING_FIELDS = (("ETag", "Etag"), ("Key", "Key"), ("LastModified", "LastModified"))
_LISTING_TAIL = ("Size", "StorageClass")
# Java's parseInt range: a MaxItemsPath value outside it is not an integer to AWS's parser.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_JAVA_INT = re.compile(r"[+-]?\d+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _failed(cause: str) -> StatesError:
    return StatesError(ITEM_READER_FAILED, cause)


def shown(value: Any) -> str:
    """A value as AWS quotes it in a cause: a string bare, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


# -- S3 getObject ------------------------------------------------------------------------------


def items_from_object(body: str, reader_config: dict[str, Any]) -> list[Any]:
    """The items of an S3 object read by ``arn:aws:states:::s3:getObject``.

    ``reader_config`` is the ItemReader's ``ReaderConfig`` (its MaxItems is applied apart,
    by :func:`limit_items`). ``InputType`` absent reads the body as JSON. MANIFEST needs the
    inventory's data files, more S3 reads: see :func:`parse_inventory_manifest`.
    Raises :class:`StatesError` ``States.ItemReaderFailed`` as AWS fails the Map Run.
    """
    # A byte order mark is the encoding's, not the data's.
    text = body[1:] if body.startswith("\ufeff") else body
    input_type = reader_config.get("InputType", "JSON")
    if input_type == "JSON":
        return _json_items(text)
    if input_type == "JSONL":
        return _jsonl_items(text)
    if input_type == "CSV":
        return _csv_items(text, reader_config)
    if input_type == "MANIFEST":
        # The items are the rows of the data files the manifest lists: more S3 reads, the
        # caller's (parse_inventory_manifest, then items_from_inventory_csv for each file).
        raise _failed(
            "An S3 inventory manifest (InputType MANIFEST) holds no items itself: its items"
            " are the rows of the data files it lists."
        )
    raise _failed(f"Unsupported ReaderConfig.InputType: {shown(input_type)}.")


def _parse_json(text: str, what: str) -> Any:
    try:
        return limits.loads(text)
    except limits.JsonTooDeep as deep:
        raise _failed(
            f"The {what} nests arrays and objects more than {deep.limit} levels deep."
        ) from None
    except ValueError:
        raise _failed(f"The {what} is not valid JSON.") from None


def _json_items(text: str) -> list[Any]:
    value = _parse_json(text, "S3 object")
    if not isinstance(value, list):
        raise _failed(NON_ITERABLE_CAUSE)
    return value


def _jsonl_items(text: str) -> list[Any]:
    items: list[Any] = []
    # Only line breaks end a line: U+2028 and the like may stand inside a JSON string.
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if line.strip():  # blank lines (the one after the last record too) hold no item
            items.append(_parse_json(line, f"line {number} of the JSONL object"))
    return items


def _csv_items(text: str, reader_config: dict[str, Any]) -> list[dict[str, str]]:
    delimiter_name = reader_config.get("CSVDelimiter", "COMMA")
    delimiter = CSV_DELIMITERS.get(delimiter_name) if isinstance(delimiter_name, str) else None
    if delimiter is None:
        raise _failed(f"Unsupported ReaderConfig.CSVDelimiter: {shown(delimiter_name)}.")
    records = csv_records(text, delimiter)
    location = reader_config.get("CSVHeaderLocation", "FIRST_ROW")
    if location == "GIVEN":
        headers = reader_config.get("CSVHeaders")
        if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
            raise _failed("CSVHeaderLocation GIVEN needs CSVHeaders, an array of strings.")
    elif location == "FIRST_ROW":
        if not records:
            return []
        headers, records = records[0], records[1:]
    else:
        raise _failed(f"Unsupported ReaderConfig.CSVHeaderLocation: {shown(location)}.")
    return rows_as_items(headers, records)


def rows_as_items(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[dict[str, str]]:
    """CSV rows as AWS hands them to iterations: header -> field, ``""`` for a missing field,
    extra fields dropped, keys in AWS's (``java.util.HashMap``) order."""
    if len(set(headers)) < len(headers):
        raise _failed(DUPLICATE_HEADERS_CAUSE)
    # Each key with the column its value comes from, in AWS's key order, once for the file.
    position = {header: column for column, header in enumerate(headers)}
    columns = [(key, position[key]) for key in hash_map_order(headers)]
    return [
        {key: row[column] if column < len(row) else "" for key, column in columns} for row in rows
    ]


# -- CSV text --------------------------------------------------------------------------------


def csv_records(text: str, delimiter: str = ",") -> list[list[str]]:
    """The records of delimited text, by the rules of AWS's guide ("How Step Functions parses
    input CSV files"):

    - a line break (``\\n``, ``\\r\\n`` or ``\\r``) ends a record, except inside quotes (where
      it is kept as ``\\n``); the one that ends the text makes no empty record;
    - a field that starts with ``"`` is quoted up to the next lone ``"``: it may hold the
      delimiter and line breaks; ``""`` is a literal ``"``, in a quoted field or not (the
      guide's ``{""MyKey"":""MyValue""}`` reads as ``{"MyKey":"MyValue"}``);
    - a backslash escapes a backslash, ``"`` or the delimiter; before any other character it
      is dropped;
    - fields are strings, whitespace kept.
    """
    special = re.compile('["\\\\\r\n' + re.escape(delimiter) + "]")
    records: list[list[str]] = []
    fields: list[str] = []
    buffer: list[str] = []
    in_quotes = False
    started = False  # the field has content or an opening quote: a quote no longer opens it
    position, end = 0, len(text)
    while position < end:
        found = special.search(text, position)
        if found is None:
            buffer.append(text[position:])
            started = True
            break
        at = found.start()
        if at > position:
            buffer.append(text[position:at])
            started = True
        char = text[at]
        following = text[at + 1] if at + 1 < end else ""
        position = at + 1
        if char == '"':
            if following == '"' and (in_quotes or started):
                buffer.append('"')
                position += 1
            else:
                # Opens a quoted section (at a field's start, or a lone quote inside one) or
                # closes it; the quote itself is no part of the value.
                in_quotes = not in_quotes
            started = True
        elif char == "\\":
            if following in ("\\", '"', delimiter) and following:
                buffer.append(following)
                position += 1
            started = True
        elif char == delimiter and not in_quotes:
            fields.append("".join(buffer))
            buffer, started = [], False
        elif char in "\r\n":
            if char == "\r" and following == "\n":
                position += 1
            if in_quotes:
                buffer.append("\n")
            else:
                fields.append("".join(buffer))
                records.append(fields)
                fields, buffer, started = [], [], False
        else:  # the delimiter inside quotes
            buffer.append(char)
    if started or fields or buffer:
        fields.append("".join(buffer))
        records.append(fields)
    return records


# -- Java's HashMap order --------------------------------------------------------------------

_JAVA_TABLE = 16  # a HashMap's first table size
_JAVA_LOAD = 0.75  # its load factor: the table doubles past 3/4 full
_JAVA_TREEIFY = 8  # a bin longer than this doubles a table smaller than _JAVA_MIN_TREE
_JAVA_MIN_TREE = 64


def _java_hash(key: str) -> int:
    """``String.hashCode()`` (over UTF-16 code units), spread as ``HashMap.hash`` does."""
    value = 0
    data = key.encode("utf-16-be", "surrogatepass")
    for index in range(0, len(data), 2):
        value = (31 * value + (data[index] << 8 | data[index + 1])) & 0xFFFFFFFF
    return value ^ (value >> 16)


def hash_map_order(keys: Sequence[str]) -> list[str]:
    """The order a ``java.util.HashMap`` (default size) iterates ``keys`` (distinct) put in
    that order: by bucket of the final table, then by insertion within a bucket (a resize
    keeps that order).

    Bins long enough to become trees in a table of 64 or more (9 keys in one bucket) are kept
    in insertion order, an approximation: Java orders those by its tree.
    """
    hashes = [_java_hash(key) for key in keys]
    table = _JAVA_TABLE
    bins: Counter[int] = Counter()
    for count, spread in enumerate(hashes, start=1):
        bins[spread & (table - 1)] += 1
        grow = bins[spread & (table - 1)] > _JAVA_TREEIFY and table < _JAVA_MIN_TREE
        if grow:  # treeifyBin on a small table resizes it instead
            table *= 2
        if count > int(table * _JAVA_LOAD):
            table *= 2
            grow = True
        if grow:
            bins = Counter(h & (table - 1) for h in hashes[:count])
    ranked = sorted(range(len(keys)), key=lambda index: (hashes[index] & (table - 1), index))
    return [keys[index] for index in ranked]


# -- S3 listObjectsV2 ------------------------------------------------------------------------


def items_from_listing(response: dict[str, Any]) -> list[Any]:
    """The items of ``arn:aws:states:::s3:listObjectsV2``: one per entry of the response's
    ``Contents`` (as the S3 API or botocore returns it; a "folder" object is an item too).

    Each is ``{"Etag", "Key", "LastModified", "Size", "StorageClass"}`` (those present): the
    ETag as S3 gives it, quotes included, and LastModified in seconds since the epoch, as
    AWS's guide shows. A listing of several pages: call once per page and join the lists.
    """
    items: list[Any] = []
    for entry in response.get("Contents") or []:
        item: dict[str, Any] = {}
        for source, name in _LISTING_FIELDS:
            value = entry.get(source, entry.get(name))
            if value is not None:
                item[name] = _epoch_seconds(value) if name == "LastModified" else value
        for name in _LISTING_TAIL:
            if entry.get(name) is not None:
                item[name] = entry[name]
        items.append(item)
    return items


def _epoch_seconds(moment: Any) -> Any:
    """LastModified (a datetime from botocore, ISO-8601 text from the raw API) in seconds."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if not isinstance(moment, datetime):
        return moment
    if moment.tzinfo is None:  # S3's times are UTC
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    return int(seconds) if seconds.is_integer() else round(seconds, 3)


# -- MaxItems --------------------------------------------------------------------------------


def check_max_items(value: Any, path: str | None = None) -> int | None:
    """MaxItems as given (a literal, what ``MaxItemsPath`` read, or a JSONata result) as an
    integer, None for none; a whole number written as text ("2") counts as that number.

    Raises ``States.Runtime`` (the interpreter prefixes the state) for anything else, as AWS
    does before the Map Run starts. A negative value is returned: it fails later, in the
    reader (:func:`limit_items`).
    """
    if value is None:
        return None
    number = value
    if isinstance(number, str) and _JAVA_INT.fullmatch(number):
        number = int(number)
    if isinstance(number, int) and not isinstance(number, bool) and _INT_MIN <= number <= _INT_MAX:
        return number
    field = "MaxItemsPath" if path is not None else "MaxItems"
    where = f": {path}" if path is not None else ""
    raise StatesError(
        errors.RUNTIME,
        f'The {field} field refers to value "{shown(value)}" which is not a valid integer{where}',
    )


def limit_items(items: list[Any], max_items: Any, path: str | None = None) -> list[Any]:
    """``items`` held to ReaderConfig's MaxItems (as :func:`check_max_items` takes it).

    None and 0 mean no limit; values past :data:`MAX_ITEMS` are held to it; a negative
    value fails the Map Run with ``States.ItemReaderFailed`` "field MaxItems must be
    positive". The same for every InputType and for a listing.
    """
    limit = check_max_items(max_items, path)
    if limit is None or limit == 0:
        return items
    if limit < 0:
        raise _failed(NEGATIVE_MAX_ITEMS_CAUSE)
    return items[: min(limit, MAX_ITEMS)]


# -- S3 Inventory (InputType MANIFEST) ---------------------------------------------------------


@dataclass(frozen=True)
class InventoryManifest:
    """An S3 Inventory ``manifest.json``: where its CSV data files are and their columns."""

    bucket: str  # the destination bucket, holding the data files
    keys: tuple[str, ...]  # the data files (gzip-compressed CSV)
    schema: tuple[str, ...]  # the column names ("Bucket", "Key", "Size", ...)


def parse_inventory_manifest(body: str) -> InventoryManifest:
    """Read an S3 Inventory manifest (ReaderConfig ``InputType: MANIFEST``).

    The items are the rows of the data files it lists, read with
    :func:`items_from_inventory_csv` once the caller has fetched and decompressed each file.
    AWS supports CSV inventories only.
    """
    manifest = _parse_json(body[1:] if body.startswith("\ufeff") else body, "S3 inventory manifest")
    if not isinstance(manifest, dict):
        raise _failed("The S3 inventory manifest is not a JSON object.")
    if manifest.get("fileFormat") != "CSV":
        raise _failed(
            "Only CSV S3 inventories can be read; the manifest's fileFormat is"
            f" {shown(manifest.get('fileFormat'))}."
        )
    schema = manifest.get("fileSchema")
    files = manifest.get("files")
    destination = manifest.get("destinationBucket")
    if (
        not isinstance(schema, str)
        or not isinstance(files, list)
        or not isinstance(destination, str)
    ):
        raise _failed("The S3 inventory manifest needs fileSchema, files and destinationBucket.")
    keys = tuple(entry.get("key") for entry in files if isinstance(entry, dict))
    if not all(isinstance(key, str) for key in keys) or len(keys) != len(files):
        raise _failed("Each file of the S3 inventory manifest needs a key.")
    return InventoryManifest(
        bucket=destination.removeprefix("arn:aws:s3:::"),
        keys=tuple(str(key) for key in keys),
        schema=tuple(name.strip() for name in schema.split(",")),
    )


def items_from_inventory_csv(body: str, schema: Sequence[str]) -> list[dict[str, str]]:
    """The items of one S3 Inventory data file (decompressed): each row as
    ``{column: text}`` by the manifest's ``fileSchema``, as AWS's guide shows
    (``{"LastModifiedDate": "...", "Bucket": "...", "Size": "3399671", "Key": "..."}``)."""
    return rows_as_items(list(schema), csv_records(body, ","))
