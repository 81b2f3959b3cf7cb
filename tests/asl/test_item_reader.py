"""The Distributed Map's ItemReader (orchestrator/asl/item_reader.py): unit tests of each
InputType, CSV option, MaxItems edge and the listing shape, then every ``s3_item_reader``
record of the conformance corpus (``<checkout>/../shared/conformance/integrations.jsonl``)
recomputed from its S3 objects and compared with what AWS recorded."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl import item_batcher, item_reader
from orchestrator.asl.errors import StatesError
from orchestrator.asl.item_reader import (
    MAX_ITEMS,
    check_max_items,
    csv_records,
    hash_map_order,
    items_from_inventory_csv,
    items_from_listing,
    items_from_object,
    limit_items,
    parse_inventory_manifest,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
FAILED = "States.ItemReaderFailed"


@contextmanager
def _fails(error: str, cause: str, *, part: bool = False) -> Iterator[None]:
    """Expects a StatesError with this error and this cause (or one containing it)."""
    with pytest.raises(StatesError) as raised:
        yield
    assert raised.value.error == error
    if part:
        assert cause in raised.value.cause
    else:
        assert raised.value.cause == cause


# -- JSON and JSONL ---------------------------------------------------------------------------


def test_json_array_elements_are_the_items_in_order_with_their_key_order() -> None:
    body = '[{"verdict": "true", "statement_date": "6/11/2008"}, 2, "x", null, [1]]'
    items = items_from_object(body, {"InputType": "JSON"})
    assert items == [{"verdict": "true", "statement_date": "6/11/2008"}, 2, "x", None, [1]]
    assert list(items[0]) == ["verdict", "statement_date"]  # the file's order, not a HashMap's


@pytest.mark.parametrize("body", ['{"Hello": "world"}', "3", '"text"', "null", "true"])
def test_json_that_is_no_array_cannot_be_mapped(body: str) -> None:
    with _fails(FAILED, "Attempting to map over non-iterable node."):
        items_from_object(body, {"InputType": "JSON"})


def test_json_that_does_not_parse_fails_the_reader() -> None:
    with _fails(FAILED, "The S3 object is not valid JSON."):
        items_from_object("[1, 2", {"InputType": "JSON"})
    with _fails(FAILED, "The S3 object is not valid JSON."):
        items_from_object("[NaN]", {"InputType": "JSON"})
    deep = "[" * 200 + "]" * 200
    with _fails(FAILED, "more than 128 levels deep", part=True):
        items_from_object(deep, {"InputType": "JSON"})


def test_no_input_type_reads_json_and_a_byte_order_mark_is_ignored() -> None:
    assert items_from_object("[1, 2]", {}) == [1, 2]
    assert items_from_object("\ufeff[1]", {"InputType": "JSON"}) == [1]


def test_jsonl_has_one_item_per_line_blank_lines_skipped() -> None:
    body = '{"a": 1}\r\n\n  \n[2]\n"three"\n4\n'
    assert items_from_object(body, {"InputType": "JSONL"}) == [{"a": 1}, [2], "three", 4]
    # Only \n, \r\n and \r end a line: U+2028 may stand inside a JSON string.
    assert items_from_object('"a\u2028b"\r"c"', {"InputType": "JSONL"}) == ["a\u2028b", "c"]


def test_jsonl_line_that_does_not_parse_names_its_line() -> None:
    with _fails(FAILED, "The line 2 of the JSONL object is not valid JSON."):
        items_from_object('{"a": 1}\n{"b":\n', {"InputType": "JSONL"})


def test_unknown_input_type_and_manifest_fail_the_reader() -> None:
    with _fails(FAILED, "Unsupported ReaderConfig.InputType: XML."):
        items_from_object("<a/>", {"InputType": "XML"})
    with _fails(FAILED, "An S3 inventory manifest (InputType MANIFEST) holds no items", part=True):
        items_from_object("{}", {"InputType": "MANIFEST"})


# -- CSV -------------------------------------------------------------------------------------

# The body AWS read in test_map_item_reader_base_csv_headers_first_line.
RECORDED_CSV = "Col1,Col2,Col3\nValue1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"


def test_csv_first_row_is_the_header_and_rows_are_strings() -> None:
    items = items_from_object(RECORDED_CSV, {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})
    assert items == [
        {"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"},
        {"Col1": "Value4", "Col2": "Value5", "Col3": "Value6"},
        {"Col1": "", "Col2": "", "Col3": ""},  # ",,," has a 4th field, dropped
        {"Col1": "true", "Col2": "1", "Col3": "'HelloWorld'"},  # no typing, quotes kept
        {"Col1": "Null", "Col2": "None", "Col3": ""},
        {"Col1": "   ", "Col2": "", "Col3": ""},  # whitespace kept, missing fields ""
    ]  # and the final line break makes no row


def test_csv_given_headers_read_every_line_as_a_row() -> None:
    config = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1", "H2"]}
    assert items_from_object("a,b\nc\n", config) == [{"H1": "a", "H2": "b"}, {"H1": "c", "H2": ""}]


def test_csv_extra_fields_are_dropped_and_missing_fields_empty() -> None:
    # Recorded (test_map_item_reader_csv_first_row_extra_fields): the header "H1," names
    # two columns, "H1" and "".
    body = "H1,\nValue4,Value5,Value6\n,,,\n   \n"
    items = items_from_object(body, {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})
    assert items == [{"": "Value5", "H1": "Value4"}, {"": "", "H1": ""}, {"": "", "H1": "   "}]
    config = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1"]}
    assert items_from_object("a,b,c\n", config) == [{"H1": "a"}]


@pytest.mark.parametrize("location", ["GIVEN", "FIRST_ROW"])
def test_csv_duplicate_headers_fail_the_reader(location: str) -> None:
    config = {"InputType": "CSV", "CSVHeaderLocation": location, "CSVHeaders": ["H1", "H1"]}
    with _fails(FAILED, "CSV headers cannot contain duplicates."):
        items_from_object("H1,H1\na,b\n", config)


def test_csv_header_names_are_taken_as_written() -> None:
    # Recorded (test_map_item_reader_csv_headers_first_row_typed_headers).
    items = items_from_object(
        "0,True,{}\nValue4,Value5,Value6\n", {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}
    )
    assert json.dumps(items, separators=(",", ":")) == (
        '[{"0":"Value4","{}":"Value6","True":"Value5"}]'  # AWS's text, its key order too
    )


def test_csv_keys_come_in_java_hash_map_order() -> None:
    # The key orders AWS shows: its guide's rows (ratings.csv, myCSVInput.csv) and recorded ones.
    assert hash_map_order(["userId", "movieId", "rating", "timestamp"]) == [
        "rating",
        "movieId",
        "userId",
        "timestamp",
    ]
    assert hash_map_order(["MyLetters", "MyNumbers", "MyString", "MyObject", "MyArray"]) == [
        "MyNumbers",
        "MyObject",
        "MyString",
        "MyLetters",
        "MyArray",
    ]
    assert hash_map_order(["H1", ""]) == ["", "H1"]
    assert hash_map_order(["0", "True", "{}"]) == ["0", "{}", "True"]


def test_hash_map_order_follows_the_table_as_it_grows() -> None:
    # "q" (113) and "a" (97) share bucket 1 of 16, in insertion order; a 13th key doubles
    # the table to 32, where "q" moves to bucket 17, after "a".
    assert hash_map_order(["q", "a"]) == ["q", "a"]
    others = [chr(c) for c in range(ord("b"), ord("b") + 11)]
    assert len(others) + 2 == 13
    grown = hash_map_order(["q", "a", *others])
    assert grown.index("a") < grown.index("q")
    assert hash_map_order(["q", "a", *others[:10]]).index("q") == 0  # 12 keys: still 16
    # A bucket of 9 in a small table doubles it too (Java's treeifyBin): 9 keys
    # whose hashes are 1 mod 16 split into buckets 1 and 17 of 32.
    colliding = [chr(1 + 16 * k) for k in range(1, 10)]
    assert hash_map_order(colliding) == [chr(c) for c in (33, 65, 97, 129, 17, 49, 81, 113, 145)]
    # Strings hash over UTF-16 code units (a character past U+FFFF counts as two).
    assert item_reader._java_hash("\U0001f600") == item_reader._java_hash("\ud83d\ude00")


@pytest.mark.parametrize(
    ("name", "delimiter"),
    [("COMMA", ","), ("PIPE", "|"), ("SEMICOLON", ";"), ("SPACE", " "), ("TAB", "\t")],
)
def test_csv_delimiters(name: str, delimiter: str) -> None:
    body = delimiter.join(["a", "b"]) + "\n" + delimiter.join(["1", "x,y|z;w"]) + "\n"
    if delimiter != ",":
        body = body.replace("x,y|z;w", "x,y|z;w".replace(delimiter, "_"))
    config = {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": name}
    items = items_from_object(body, config)
    assert len(items) == 1
    assert items[0]["a"] == "1"
    assert delimiter not in items[0]["b"] or delimiter == ","


def test_csv_default_delimiter_is_comma_and_others_do_not_split() -> None:
    config = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"]}
    assert items_from_object("1|2,3\n", config) == [{"a": "1|2", "b": "3"}]
    config["CSVDelimiter"] = "PIPE"
    assert items_from_object("1|2,3\n", config) == [{"a": "1", "b": "2,3"}]


def test_csv_unknown_delimiter_or_location_or_missing_headers_fail() -> None:
    with _fails(FAILED, "Unsupported ReaderConfig.CSVDelimiter: COLON."):
        items_from_object("a\n", {"InputType": "CSV", "CSVDelimiter": "COLON"})
    with _fails(FAILED, "Unsupported ReaderConfig.CSVHeaderLocation: LAST_ROW."):
        items_from_object("a\n", {"InputType": "CSV", "CSVHeaderLocation": "LAST_ROW"})
    with _fails(FAILED, "CSVHeaderLocation GIVEN needs CSVHeaders", part=True):
        items_from_object("a\n", {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"})


def test_csv_empty_text_has_no_items() -> None:
    assert items_from_object("", {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}) == []
    assert items_from_object("H\n", {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}) == []


def test_csv_quoting_as_aws_guide_parses_it() -> None:
    # AWS's guide, "How Step Functions parses input CSV files".
    body = (
        'abc,123,"This string contains commas, a double quotation marks (""), and a newline (\n)",'
        '{""MyKey"":""MyValue""},"[1,2,3]"'
    )
    assert csv_records(body) == [
        [
            "abc",
            "123",
            'This string contains commas, a double quotation marks ("), and a newline (\n)',
            '{"MyKey":"MyValue"}',
            "[1,2,3]",
        ]
    ]
    assert csv_records('"",a\n""""\n') == [["", "a"], ['"']]


def test_csv_backslash_escapes() -> None:
    assert csv_records("path,size\nC:\\\\Program Files\\\\MyApp.exe,6534512") == [
        ["path", "size"],
        ["C:\\Program Files\\MyApp.exe", "6534512"],
    ]
    assert csv_records('a\\,b,\\"c\\",\\x\\') == [["a,b", '"c"', "x"]]  # other: dropped
    assert csv_records("a\\|b|c", "|") == [["a|b", "c"]]


def test_csv_line_breaks() -> None:
    assert csv_records("a\r\nb\rc\nd") == [["a"], ["b"], ["c"], ["d"]]
    assert csv_records('"x\r\ny",z\n') == [["x\ny", "z"]]  # kept as \n inside quotes
    assert csv_records("a\n\nb\n") == [["a"], [""], ["b"]]  # a blank line is one empty field
    assert csv_records("a,\n") == [["a", ""]]
    assert csv_records("") == []


# -- listObjectsV2 ---------------------------------------------------------------------------


def test_listing_items_have_aws_shape() -> None:
    when = datetime(2023, 9, 21, 13, 54, 20, tzinfo=UTC)
    response = {
        "Contents": [
            {
                "Key": "file_0.txt",
                "LastModified": when,
                "ETag": '"4b0a3ad0bb1e1c0ee7ba4c2b7e45b2a4"',
                "ChecksumAlgorithm": ["CRC32"],
                "Size": 12,
                "StorageClass": "STANDARD",
                "Owner": {"ID": "x"},
            },
            {"Key": "dir/", "LastModified": "2022-11-16T00:27:19.000Z", "Size": 0},
        ],
        "KeyCount": 2,
    }
    items = items_from_listing(response)
    assert items == [
        {
            "Etag": '"4b0a3ad0bb1e1c0ee7ba4c2b7e45b2a4"',
            "Key": "file_0.txt",
            "LastModified": 1695304460,
            "Size": 12,
            "StorageClass": "STANDARD",
        },
        {"Key": "dir/", "LastModified": 1668558439, "Size": 0},
    ]
    assert list(items[0]) == ["Etag", "Key", "LastModified", "Size", "StorageClass"]
    assert items_from_listing({"KeyCount": 0}) == []
    naive = items_from_listing({"Contents": [{"Key": "k", "LastModified": datetime(1970, 1, 2)}]})
    assert naive == [{"Key": "k", "LastModified": 86400}]


# -- MaxItems --------------------------------------------------------------------------------


def test_max_items_limits_and_zero_or_none_means_all() -> None:
    items = list(range(5))
    assert limit_items(items, 2) == [0, 1]
    assert limit_items(items, 5) == items
    assert limit_items(items, 9) == items
    assert limit_items(items, 0) == items  # recorded: MaxItems 0 reads all 4 rows
    assert limit_items(items, None) == items
    assert limit_items(items, "2") == [0, 1]  # a variable assigned "2" (recorded)


def test_max_items_past_the_maximum_is_held_to_it() -> None:
    assert MAX_ITEMS == 100_000_000
    big = list(range(3))
    assert limit_items(big, MAX_ITEMS + 1, "$.MaxItems") == big


def test_negative_max_items_fails_the_reader() -> None:
    with _fails(FAILED, "field MaxItems must be positive"):
        limit_items([1], -1, "$.MaxItems")
    assert check_max_items(-1, "$.MaxItems") == -1  # not a Runtime error: the reader's


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1.5, "1.5"), ("1.5", "1.5"), ({}, "{}"), ("NoNumber", "NoNumber"), (True, "true"),
     (2.0, "2.0"), (2**31, "2147483648"), ([1], "[1]")],
)  # fmt: skip
def test_max_items_path_that_is_no_integer_is_a_runtime_error(value: Any, shown: str) -> None:
    cause = f'The MaxItemsPath field refers to value "{shown}" which is not a valid integer: $.M'
    with _fails("States.Runtime", cause):
        check_max_items(value, "$.M")
    with _fails("States.Runtime", cause):
        limit_items([1], value, "$.M")
    with _fails("States.Runtime", f'The MaxItems field refers to value "{shown}"', part=True):
        check_max_items(value)


# -- S3 Inventory ----------------------------------------------------------------------------


def test_inventory_manifest_and_data_file() -> None:
    manifest = parse_inventory_manifest(
        json.dumps(
            {
                "sourceBucket": "source",
                "destinationBucket": "arn:aws:s3:::inventory",
                "version": "2016-11-30",
                "fileFormat": "CSV",
                "fileSchema": "Bucket, Key, Size, LastModifiedDate",
                "files": [{"key": "source/config/data/1.csv.gz", "size": 7300}],
            }
        )
    )
    assert manifest.bucket == "inventory"
    assert manifest.keys == ("source/config/data/1.csv.gz",)
    assert manifest.schema == ("Bucket", "Key", "Size", "LastModifiedDate")
    data = '"source","csvDataset/titles.csv","3399671","2022-11-16T00:29:32.000Z"\n'
    items = items_from_inventory_csv(data, manifest.schema)
    # AWS's guide shows this item, in this key order.
    assert json.dumps(items) == json.dumps(
        [
            {
                "LastModifiedDate": "2022-11-16T00:29:32.000Z",
                "Bucket": "source",
                "Size": "3399671",
                "Key": "csvDataset/titles.csv",
            }
        ]
    )
    with _fails(FAILED, "Only CSV S3 inventories can be read", part=True):
        parse_inventory_manifest('{"fileFormat": "ORC"}')
    with _fails(FAILED, "needs fileSchema, files and destinationBucket", part=True):
        parse_inventory_manifest('{"fileFormat": "CSV"}')


# -- The conformance corpus ------------------------------------------------------------------


class Unresolvable(Exception):
    """A value this test cannot work out without the interpreter."""


# A stand-in for $states.context.State.EnteredTime; the recording masked it as "date".
_ENTERED_TIME = "2024-11-13T15:21:53.123Z"
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)")
_PASS_ONLY = {"Type", "End", "Comment"}
# The Map fields that do not change what its output is, given an ItemReader (AWS ignores
# ItemsPath then: recorded, test_map_item_reader_base_json_with_items_path[...]).
_NEUTRAL_MAP_FIELDS = {
    "Type", "Comment", "End", "Next", "MaxConcurrency", "ItemReader", "ItemBatcher",
    "ItemProcessor", "Iterator", "ItemsPath", "Label", "QueryLanguage",
}  # fmt: skip


def corpus_records() -> list[dict[str, Any]]:
    """The ``s3_item_reader`` records (skips the test when the corpus is absent, fails in CI)."""
    path = CORPUS / "integrations.jsonl"
    if not path.is_file():
        message = f"conformance corpus not found at {CORPUS} (it sits beside the checkout in CI)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [record for record in records if "s3_item_reader" in record["tags"]]


def _states(scope: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in scope.get("States", {}).items():
        yield name, state
        for child in (
            state.get("ItemProcessor"),
            state.get("Iterator"),
            *state.get("Branches", []),
        ):
            if isinstance(child, dict):
                yield from _states(child)


class Resolver:
    """Works out a field's value from the Map's recorded input and literal Assigns."""

    def __init__(self, record: dict[str, Any], definition: dict[str, Any], map_input: Any):
        self.map_input = map_input
        self.variables: dict[str, Any] = {}
        for _, state in _states(definition):
            for name, value in (state.get("Assign") or {}).items():
                if name.endswith(".$") or "{%" in json.dumps(value):
                    raise Unresolvable(f"Assign {name} is an expression")
                self.variables[name] = value

    def path(self, text: str) -> Any:
        """A reference path: ``$.a.b`` into the Map's input or ``$name.a`` into a variable."""
        match = re.fullmatch(r"\$(\w*)((?:\.\w+)*)", text)
        if match is None:
            raise Unresolvable(f"path {text}")
        root = self.variables[match[1]] if match[1] else self.map_input
        for step in match[2].split(".")[1:]:
            root = root[step]
        return root

    def jsonata(self, text: str) -> Any:
        expression = text.removeprefix("{%").removesuffix("%}").strip()
        if expression == "$states.context.State.EnteredTime":
            return _ENTERED_TIME
        if match := re.fullmatch(r"\$states\.input((?:\.\w+)+)", expression):
            return self.path("$" + match[1])
        if match := re.fullmatch(r"\$\w+\s*:=\s*(.+)", expression):
            return json.loads(match[1])
        raise Unresolvable(f"expression {text}")

    def value(self, value: Any) -> Any:
        """A template: ``.$`` keys (JSONPath), ``{% %}`` strings (JSONata), literals."""
        if isinstance(value, str) and value.startswith("{%"):
            return self.jsonata(value)
        if isinstance(value, dict):
            result = {}
            for key, field in value.items():
                if key.endswith(".$"):
                    result[key[:-2]] = self.path(field)
                else:
                    result[key] = self.value(field)
            return result
        if isinstance(value, list):
            return [self.value(element) for element in value]
        return value

    def count(self, fields: dict[str, Any], name: str) -> tuple[Any, str | None]:
        """A count field as given (its value, its Path's value, or its expression's) and its
        Path's text."""
        if f"{name}Path" in fields:
            return self.path(fields[f"{name}Path"]), fields[f"{name}Path"]
        return self.value(fields.get(name)), None


def _listing_response(record: dict[str, Any], bucket: str) -> dict[str, Any]:
    """What S3's ListObjectsV2 (through botocore) returned for the objects the test stored."""
    when = datetime(2023, 9, 21, 13, 54, 20, tzinfo=UTC)
    contents = [
        {
            "Key": stored["key"],
            "LastModified": when,
            "ETag": '"' + hashlib.md5(stored["body"].encode()).hexdigest() + '"',
            "Size": len(stored["body"].encode()),
            "StorageClass": "STANDARD",
        }
        for stored in sorted(record["s3_objects"], key=lambda stored: stored["key"])
        if stored["bucket"] == bucket
    ]
    return {"Contents": contents, "KeyCount": len(contents)}


def _normalised_listing(items: list[Any]) -> list[dict[str, Any]]:
    """The listing as the test that recorded it rewrote it (Etag, LastModified masked)."""
    for item in items:
        assert set(item) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
        assert item["Etag"].startswith('"') and item["Etag"].endswith('"')
        assert isinstance(item["LastModified"], int)
    rewritten = [
        {
            "Etag": f"<Etag-{item['Key']}>",
            "LastModified": "<date>",
            "Key": item["Key"],
            "Size": item["Size"],
            "StorageClass": item["StorageClass"],
        }
        for item in items
    ]
    return sorted(rewritten, key=lambda item: item["Key"])


def map_result(record: dict[str, Any]) -> tuple[str, Any]:
    """What the record's Distributed Map outputs, computed here: ("SUCCEEDED", output) or
    ("FAILED", (error, cause)). Raises Unresolvable for what needs the interpreter."""
    definition = json.loads(record["definition"])
    maps = [(name, state) for name, state in _states(definition) if "ItemReader" in state]
    if len(maps) != 1:
        raise Unresolvable(f"{len(maps)} Map states with an ItemReader")
    name, state = maps[0]
    if set(state) - _NEUTRAL_MAP_FIELDS or state.get("Retry") or state.get("Catch"):
        raise Unresolvable(f"Map fields {sorted(set(state) - _NEUTRAL_MAP_FIELDS)}")
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    if any(set(child) - _PASS_ONLY or child["Type"] != "Pass" for _, child in _states(processor)):
        raise Unresolvable("the item processor is not Pass states only")
    events = record["events"]
    entered = next(
        (index for index, event in enumerate(events, start=1)
         if event["type"] == "MapStateEntered" and event["details"]["name"] == name),
        None,
    )  # fmt: skip
    if entered is None:
        raise Unresolvable("the Map state never started")
    resolver = Resolver(record, definition, events[entered - 1]["details"]["input"])
    reader = state["ItemReader"]
    config = dict(reader.get("ReaderConfig") or {})
    arguments = resolver.value(reader.get("Arguments", reader.get("Parameters", {})))
    try:
        max_items, max_items_path = resolver.count(config, "MaxItems")
        check_max_items(max_items, max_items_path)  # before the Map Run starts
        batcher = state.get("ItemBatcher")
        if batcher is not None:
            items_path = batcher.get("MaxItemsPerBatchPath")
            bytes_path = batcher.get("MaxInputBytesPerBatchPath")
            per_batch, _ = resolver.count(batcher, "MaxItemsPerBatch")
            batch_bytes, _ = resolver.count(batcher, "MaxInputBytesPerBatch")
            limits = item_batcher.check_batcher_limits(
                per_batch, batch_bytes, items_path=items_path, bytes_path=bytes_path
            )
            batch_input = resolver.value(batcher["BatchInput"]) if "BatchInput" in batcher else None
        if reader["Resource"].endswith(":listObjectsV2"):
            items = items_from_listing(_listing_response(record, arguments["Bucket"]))
        else:
            stored = [
                s["body"]
                for s in record["s3_objects"]
                if (s["bucket"], s["key"]) == (arguments["Bucket"], arguments["Key"])
            ]
            if len(stored) != 1:
                raise Unresolvable("the S3 object read is not among the stored ones")
            config.pop("MaxItems", None)
            config.pop("MaxItemsPath", None)
            items = items_from_object(stored[0], config)
        items = limit_items(items, max_items, max_items_path)
        output: Any = items
        if batcher is not None:
            output = item_batcher.batches(items, *limits, batch_input)
    except StatesError as failure:
        cause = failure.cause
        if failure.error == "States.Runtime":  # the interpreter's prefix
            cause = (
                f"An error occurred while executing the state '{name}' (entered at the"
                f" event id #{entered}). {cause}"
            )
        return "FAILED", (failure.error, cause)
    return "SUCCEEDED", output


def test_conformance_records_are_reproduced(capsys: pytest.CaptureFixture[str]) -> None:
    records = corpus_records()
    matched: list[str] = []
    skipped: list[str] = []
    mismatched: list[str] = []
    for record in records:
        label = f"{record['id']} {record['source'].rsplit('::', 1)[-1]}"
        expected = record["expected"]
        try:
            status, result = map_result(record)
        except Unresolvable as why:
            skipped.append(f"{label}: {why}")
            continue
        if status != expected["status"]:
            mismatched.append(f"{label}: {status} {result!r}, AWS {expected}")
            continue
        if status == "FAILED":
            if result != (expected["error"], expected["cause"]):
                mismatched.append(f"{label}: {result!r}, AWS {expected}")
            else:
                matched.append(label)
            continue
        exited = [
            event["details"]["output"]
            for event in record["events"]
            if event["type"] == "MapStateExited"
        ]
        if record["definition"].find("listObjectsV2") >= 0:
            # The test rewrote this output (Etag and LastModified masked, Python's json.dumps).
            output = _normalised_listing(result)
            ok = output == expected["output"] == json.loads(exited[-1])
        else:
            # AWS's own text of the Map's output, key order included (timestamps masked).
            text = _ISO.sub("date", json.dumps(result, separators=(",", ":"), ensure_ascii=False))
            ok = text == exited[-1] and json.loads(text) == expected["output"]
        (matched if ok else mismatched).append(label if ok else f"{label}: {result!r}")
    with capsys.disabled():
        print(
            f"\n[item reader conformance] {len(matched)} of {len(records)} s3_item_reader"
            f" records matched, {len(skipped)} skipped (not computable without the"
            f" interpreter), {len(mismatched)} mismatched"
        )
        for line in skipped:
            print(f"  skipped {line}")
    assert not mismatched, "\n".join(mismatched)
    assert len(matched) + len(skipped) == len(records)
    assert matched, "no record could be computed"
