"""The AWS-recorded conformance corpus: finding it, its Lambda behaviours, normalising results.

The corpus sits beside the checkout (``<checkout>/../shared/conformance``); its README fixes
the record format and how results are normalised and compared. Nothing of it is copied here.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import json
import linecache
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonpath_ng.ext.parser import parse as parse_jsonpath

from orchestrator.arns import Account
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.loader import load_definition
from orchestrator.local_runner import Caller, FakeClock, LocalResult, run_local
from workers.runtime import Function

FOLDER = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
CORPUS = FOLDER / "cases.jsonl"
REGION = "us-east-1"
ACCOUNT = "111111111111"
ROLE_ARN = "snf_role_arn"


def load_cases(file: str = "cases.jsonl") -> list[dict[str, Any]]:
    """Every case of ``file`` (``cases.jsonl`` or ``integrations.jsonl``); skips (fails under
    CI) with where it looked when the corpus is absent."""
    corpus = FOLDER / file
    if not corpus.is_file():
        message = f"conformance corpus not found at {corpus} (it sits beside the checkout in CI)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with corpus.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


# -- Lambda behaviour codes (the corpus README, "Lambda behaviour codes") ------------------------


def lambda_functions(case: dict[str, Any], clock: Any) -> dict[str, Function]:
    """The case's Lambda functions as worker-runtime functions, by function name.

    ``clock`` is the runner's fake clock: a handler that sleeps advances it.
    """
    functions = {}
    for name, code in (case.get("lambda_handlers") or {}).items():
        functions[name.split(":")[-1]] = Function(name, _behaviour(code, clock))
    return functions


# AWS's Python runtime reports frames of /var/task/handler.py; handlers that raise are compiled
# under that name (with their source registered) so the stack trace reads the same.
_HANDLER_FILE = "/var/task/handler.py"


def _raising_handler(type_name: str, message: str) -> Any:
    if message or type_name in dir(builtins):
        source = f"def handler(event, context):\n    raise {type_name}({json.dumps(message)})\n"
    else:  # the recorded custom-exception handler: its class first, the raise on line 9
        source = (
            f"class {type_name}(Exception):\n    message: str\n\n    def __init__(self):\n"
            f'        self.message = "{type_name} message"\n\n\n'
            f"def handler(event, context):\n    raise {type_name}()\n"
        )
    lines = source.splitlines(keepends=True)
    linecache.cache[_HANDLER_FILE] = (len(source), None, lines, _HANDLER_FILE)
    namespace: dict[str, Any] = {type_name: type(type_name, (Exception,), {})}
    exec(compile(source, _HANDLER_FILE, "exec"), namespace)  # the corpus's own handler code
    return namespace["handler"]


def _behaviour(code: str, clock: Any) -> Any:
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
        return _raising_handler(type_name, message)
    if kind == "sleep_then_identity":
        seconds = float(argument)

        def sleep_then_identity(event: Any, context: Any) -> Any:
            clock.sleep(seconds)
            return event

        return sleep_then_identity
    if kind in {"python_bytes", "python_bytes_repeat"}:
        text = argument
        if kind == "python_bytes_repeat":
            letter, _, count = argument.partition(":")
            text = letter * int(count)
        return lambda event, context: text.encode()
    raise NotImplementedError(code)


def shifted(case: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The case with its captured timestamps moved by (now - input_captured_at).

    The input and the regex masks the recording put over those timestamps move together
    (corpus README, "Time-dependent and slow cases").
    """
    text: str = case["input"]
    captured = case.get("input_captured_at")
    if not captured:
        return case
    delta = now - datetime.fromisoformat(captured.replace("Z", "+00:00"))

    def shift(match: re.Match[str]) -> str:
        original = match.group(0)
        moment = datetime.fromisoformat(original.replace("Z", "+00:00")) + delta
        head, _, _ = original.partition(".")
        fraction = original[len(head) :].removesuffix("Z")
        moved = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if fraction:
            digits = len(fraction) - 1
            moved += "." + f"{moment.microsecond:06d}"[:digits].ljust(digits, "0")
        return moved + "Z"

    timestamp = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z"
    rules = [
        {**rule, "pattern": re.sub(timestamp, shift, rule["pattern"])}
        if "pattern" in rule
        else rule
        for rule in case.get("extra_transformers") or []
    ]
    return {**case, "input": re.sub(timestamp, shift, text), "extra_transformers": rules}


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


def normalise(value: Any, case: dict[str, Any], history: list[dict[str, Any]] | None = None) -> Any:
    """Apply the recording's structural and text rules to a result value.

    Sentinels (README "Sentinels"): a ``jsonpath`` rule written for the recorded history
    (``$..events..executionSucceededEventDetails.output.X``) is applied to the execution output
    as ``$.X``, where the same value sits. A ``value_of`` rule (``States.UUID()``) names a path
    of the output in the first word of its ``path``; when that value is a version-4 UUID, every
    occurrence of it becomes the rule's replacement (a value that is not one stays, and fails).
    """
    uuids: dict[str, str] = {}
    inputs: dict[str, str] = {}
    sentinels: dict[str, str] = {}
    # The recording numbered the UUIDs of the whole result, history first (its JSON-object
    # strings parsed one level), so a UUID met in an event keeps its number in the output.
    for event in history or []:
        _structural(_parse_one_level(event), uuids, {})
    value = fixed_keys(_structural(value, uuids, inputs))
    text_rules = []
    for rule in case.get("extra_transformers") or []:
        if rule.get("kind") == "value_of":
            generated = _first_match(value, rule["path"].split()[0])
            if isinstance(generated, str) and is_uuid4(generated):
                sentinels[generated] = rule["replacement"]
        elif "path" in rule:
            path = rule["path"]
            _, found, after = path.partition("executionSucceededEventDetails.output")
            value = _set_path(value, "$" + after if found else path, rule["replacement"])
        elif "pattern" in rule:
            text_rules.append(rule)
    text = json.dumps(value)
    for original, placeholder in [*sentinels.items(), *uuids.items(), *inputs.items()]:
        # In the dumped text a JSON input inside a string appears escaped.
        text = text.replace(json.dumps(original)[1:-1], placeholder).replace(original, placeholder)
    for rule in text_rules:
        text = re.sub(rule["pattern"], rule["replacement"], text)
    text = _map_run_parts(text, case)
    text = text.replace(REGION, "<region>").replace("arn:aws:", "arn:<partition>:")
    text = _ISO.sub(_valid_date_or_same, text)
    text = re.sub(r"Request ID: [a-zA-Z0-9-]+", "Request ID: <request_id>", text)
    text = re.sub(
        r"Extended Request ID: [a-zA-Z0-9-/=+]+", "Extended Request ID: <extended_request_id>", text
    )
    return json.loads(text)


_MAP_RUN = re.compile(r"mapRun:[^/\"]+/([^:\"]+):([0-9a-f]{8}-[0-9a-f-]{27})")


def _map_run_parts(text: str, case: dict[str, Any]) -> str:
    """Map Run ARNs as the recording masked them: the run's id (wherever it appears, as in a
    ResultWriter's manifest key) and a label the definition does not give."""
    labels = set(re.findall(r'"Label": ?"([^"]+)"', case.get("definition", "")))
    for n, (label, run_id) in enumerate(dict.fromkeys(_MAP_RUN.findall(text))):
        if label not in labels:
            text = text.replace(f"/{label}:{run_id}", f"/<MapRunArnPart0_{n}idx>:{run_id}")
        text = text.replace(run_id, f"<MapRunArnPart1_{n}idx>")
    return text


def fixed_keys(value: Any) -> Any:
    """The README's jsonpath rules: request ids, dates and trace ids become their key names.

    They are idempotent, so the test applies them to the expected output too: two recordings
    (7070a5b1efbc, 61f92405726f) kept lambda:invoke's request ids as ``<uuid:1>`` where every
    other recording, by these rules, shows ``RequestId`` and ``x-amzn-RequestId``.
    """
    for path, replacement in _FIXED_KEYS.items():
        value = _set_path(value, path, replacement)
    return value


def _valid_date_or_same(match: re.Match[str]) -> str:
    """The recording masked real timestamps only: '2016-13-05T…' stays as written."""
    text = match.group(0)
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return "date"


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


def _parse_one_level(value: Any) -> Any:
    """Strings inside dicts (and dicts in lists) that hold a JSON object, parsed once."""
    if isinstance(value, list):
        return [_parse_one_level(item) for item in value]
    if not isinstance(value, dict):
        return value
    parsed = {}
    for key, item in value.items():
        if isinstance(item, str) and item.startswith("{") and _is_json(item):
            parsed[key] = json.loads(item)
        else:
            parsed[key] = _parse_one_level(item)
    return parsed


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@functools.cache
def _compiled(path: str) -> Any:
    return parse_jsonpath(path)  # building jsonpath-ng's parser is slow: once per path


def _first_match(value: Any, path: str) -> Any:
    matches = _compiled(path).find(value)
    return matches[0].value if matches else None


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


@dataclasses.dataclass(frozen=True)
class Run:
    """A case run through the in-process runner: ``result`` None when its definition was
    refused (``supported`` False for UNSUPPORTED only), with why in ``refusal``."""

    case: dict[str, Any]
    result: LocalResult | None
    supported: bool = True
    refusal: str = ""


def run_recorded(case: dict[str, Any], caller: Caller | None = None) -> Run:
    """Load and run one recorded case as its README says (names, account, role, input)."""
    name = case.get("state_machine_name") or "<ArnPart_0idx>"
    try:
        machine = load_definition(case["definition"], name=name)
    except DefinitionError as exc:
        if all(p.code == "UNSUPPORTED" for p in exc.problems):
            return Run(case, None, False, exc.problems[0].message)
        return Run(case, None, True, f"rejected: {exc}")
    clock = FakeClock(datetime.now(UTC))
    case = shifted(case, clock.now())
    result = run_local(
        machine,
        json.loads(case["input"]),
        lambda_functions(case, clock),
        execution_name=case.get("execution_name") or "<ExecArnPart_0idx>",
        account=Account(region=REGION, account=case.get("account_id") or ACCOUNT),
        role_arn=case.get("role_arn") or ROLE_ARN,
        clock=clock,
        caller=caller,
    )
    return Run(case, result)
