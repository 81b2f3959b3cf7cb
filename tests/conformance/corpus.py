"""The AWS-recorded conformance corpus: finding it, its Lambda behaviours, normalising results.

The corpus sits beside the checkout (``<checkout>/../shared/conformance``); its README fixes
the record format and how results are normalised and compared. Nothing of it is copied here.
"""

from __future__ import annotations

import functools
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonpath_ng.ext.parser import parse as parse_jsonpath

from workers.runtime import Function

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases.jsonl"
REGION = "us-east-1"
ACCOUNT = "111111111111"
ROLE_ARN = "snf_role_arn"


def load_cases() -> list[dict[str, Any]]:
    """Every case; skips (fails under CI) with where it looked when the corpus is absent."""
    if not CORPUS.is_file():
        message = f"conformance corpus not found at {CORPUS} (it sits beside the checkout in CI)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with CORPUS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


# -- Lambda behaviour codes (the corpus README, "Lambda behaviour codes") ------------------------


def lambda_functions(case: dict[str, Any]) -> dict[str, Function]:
    """The case's Lambda functions as worker-runtime functions, by function name."""
    functions = {}
    for name, code in (case.get("lambda_handlers") or {}).items():
        functions[name.split(":")[-1]] = Function(name, _behaviour(code))
    return functions


def _behaviour(code: str) -> Any:
    kind, _, argument = code.partition(":")
    if kind == "identity":
        return lambda event, context: event
    if kind == "constant":
        value = json.loads(argument)
        return lambda event, context: value
    if kind == "python_str_prefix":
        return lambda event, context: argument + str(event)
    if kind == "raise_exception":
        type_name, _, message = argument.partition(":")
        error_class = type(type_name, (Exception,), {})

        def raise_it(event: Any, context: Any) -> Any:
            raise error_class(message)

        return raise_it
    if kind in {"python_bytes", "python_bytes_repeat"}:
        text = argument
        if kind == "python_bytes_repeat":
            letter, _, count = argument.partition(":")
            text = letter * int(count)
        return lambda event, context: text.encode()
    raise NotImplementedError(code)  # sleep_then_identity: only with TimeoutSeconds


# -- normalisation (the corpus README, "How to run and compare") ---------------------------------

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)")
_STARTS_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_FIXED_KEYS = {
    "$..SdkHttpMetadata..Date": "date",
    "$..SdkResponseMetadata..RequestId": "RequestId",
    "$..X-Amzn-Trace-Id": "X-Amzn-Trace-Id",
    "$..x-amz-crc32": "x-amz-crc32",
    "$..x-amzn-RequestId": "x-amzn-RequestId",
    "$..x-amzn-requestid": "x-amzn-requestid",
}


def normalise(value: Any, case: dict[str, Any]) -> Any:
    """Apply the recording's structural and text rules to a result value."""
    uuids: dict[str, str] = {}
    inputs: dict[str, str] = {}
    value = _structural(value, uuids, inputs)
    for path, replacement in _FIXED_KEYS.items():
        value = _set_path(value, path, replacement)
    text_rules = []
    for rule in case.get("extra_transformers") or []:
        if "path" in rule:
            value = _set_path(value, rule["path"], rule["replacement"])
        elif "pattern" in rule:
            text_rules.append(rule)
    text = json.dumps(value)
    for original, placeholder in [*uuids.items(), *inputs.items()]:
        text = text.replace(original, placeholder)
    for rule in text_rules:
        text = re.sub(rule["pattern"], rule["replacement"], text)
    text = text.replace(REGION, "<region>").replace("arn:aws:", "arn:<partition>:")
    text = _ISO.sub("date", text)
    text = re.sub(r"Request ID: [a-zA-Z0-9-]+", "Request ID: <request_id>", text)
    text = re.sub(
        r"Extended Request ID: [a-zA-Z0-9-/=+]+", "Extended Request ID: <extended_request_id>", text
    )
    return json.loads(text)


def _structural(value: Any, uuids: dict[str, str], inputs: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_structural(item, uuids, inputs) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        if re.search("timestamp", key, re.I) and not isinstance(item, dict | list):
            if not (isinstance(item, str) and _STARTS_ISO.match(item)):
                item = "timestamp"
        elif key.lower().endswith("id") and isinstance(item, str) and _UUID.match(item):
            uuids.setdefault(item, f"<uuid:{len(uuids) + 1}>")
        elif key == "cause" and isinstance(item, str):
            match = re.match(r".*'({.*})'", item, re.S)
            if match and _is_json(match.group(1)):
                inputs.setdefault(match.group(1), f"<json-input:{len(inputs) + 1}>")
        result[key] = _structural(item, uuids, inputs)
    return result


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@functools.cache
def _compiled(path: str) -> Any:
    return parse_jsonpath(path)  # building jsonpath-ng's parser is slow: once per path


def _set_path(value: Any, path: str, replacement: Any) -> Any:
    expression = _compiled(path)
    if not expression.find(value):
        return value
    return expression.update(value, replacement)


def parse_cause(cause: Any) -> Any:
    """An engine cause as the corpus keeps it: parsed when it is a JSON object's text."""
    if isinstance(cause, str) and cause.startswith("{"):
        try:
            return json.loads(cause)
        except ValueError:
            return cause
    return cause


def is_uuid4(text: str) -> bool:
    """Whether ``text`` is a version-4 UUID (for ``States.UUID`` sentinels)."""
    try:
        return uuid.UUID(text).version == 4
    except ValueError:
        return False
