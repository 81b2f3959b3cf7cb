"""A Distributed Map's ResultWriter: the files AWS writes to S3 when a Map Run ends.

Under ``<Prefix>/<map run id>/`` AWS puts one results file per outcome (``SUCCEEDED_0.json``,
``FAILED_0.json``, ``PENDING_0.json``: the children that succeeded; failed, timed out or were
aborted; never started) and a ``manifest.json`` that lists them with their sizes. The Map
state's result is then only where that manifest is. Each entry describes a child execution
as DescribeExecution does (``Transformation`` NONE), or is its output alone (COMPACT), with
array outputs spread out (FLATTEN). Pure: the caller reads the children and puts the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from orchestrator.asl.execution import ExecutionState

MAX_FILE_BYTES = 5 * 1024**3  # AWS starts a new results file past 5 GB
_FILES = {"SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "TIMED_OUT": "FAILED", "ABORTED": "FAILED"}


def details(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The Map state's result: the Map Run and where its manifest is."""
    return {
        "MapRunArn": parameters["MapRunArn"],
        "ResultWriterDetails": {
            "Bucket": parameters["Bucket"],
            "Key": _key(parameters, "manifest.json"),
        },
    }


def files(
    parameters: Mapping[str, Any], children: Iterable[ExecutionState]
) -> list[tuple[str, str]]:
    """The (key, text) of each file to write, the manifest last (JSON, or JSON Lines for
    ``OutputType`` JSONL)."""
    config = parameters.get("WriterConfig") or {}
    transformation = config.get("Transformation", "NONE")
    lines = config.get("OutputType") == "JSONL"
    groups: dict[str, list[Any]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for child in children:
        group = _FILES.get(child.status)
        if group is None:
            continue
        if transformation == "NONE":
            groups[group].append(_described(child))
        elif group == "SUCCEEDED":  # COMPACT and FLATTEN keep the outputs alone
            output = child.output
            if transformation == "FLATTEN" and isinstance(output, list):
                groups[group].extend(output)
            else:
                groups[group].append(output)
    written: list[tuple[str, str]] = []
    listed: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for group, entries in groups.items():
        if not entries:
            continue
        key = _key(parameters, f"{group}_0.{'jsonl' if lines else 'json'}")
        body = "".join(_text(e) + "\n" for e in entries) if lines else _text(entries)
        written.append((key, body))
        listed[group].append({"Key": key, "Size": len(body.encode())})
    manifest = {
        "DestinationBucket": parameters["Bucket"],
        "MapRunArn": parameters["MapRunArn"],
        "ResultFiles": listed,
    }
    written.append((_key(parameters, "manifest.json"), _text(manifest)))
    return written


def _described(child: ExecutionState) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ExecutionArn": child.execution_arn,
        "Input": _text(child.input),
        "InputDetails": {"Included": True},
        "Name": child.execution_name,
        "RedriveCount": child.redrive_count,
        "RedriveStatus": "NOT_REDRIVABLE",
        "RedriveStatusReason": f"Execution is {child.status} and cannot be redriven",
        "StartDate": _instant(child.start_time),
        "StateMachineArn": child.state_machine_arn,
        "Status": child.status,
        "StopDate": _instant(child.stop_time or child.start_time),
    }
    if child.status == "SUCCEEDED":
        entry["Output"] = _text(child.output)
        entry["OutputDetails"] = {"Included": True}
    if child.error is not None:
        entry["Error"] = child.error
    if child.cause is not None:
        entry["Cause"] = child.cause
    return dict(sorted(entry.items()))


def _key(parameters: Mapping[str, Any], name: str) -> str:
    run_id = str(parameters["MapRunArn"]).rsplit(":", 1)[-1]
    prefix = str(parameters.get("Prefix") or "").strip("/")
    return f"{prefix}/{run_id}/{name}" if prefix else f"{run_id}/{name}"


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
