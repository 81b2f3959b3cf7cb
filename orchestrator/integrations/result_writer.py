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

# AWS starts a new results file past 5 GB; this engine past 8 MiB, to hold no more at once.
FILE_BYTES = 8 * 1024 * 1024
_LISTED = ("FAILED", "PENDING", "SUCCEEDED")  # the manifest's order
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


class ResultFiles:
    """The files of one Map Run's results, built as its children are read, page by page: a
    file is ready (and leaves memory) once it holds :data:`FILE_BYTES`, so what is held is
    bounded however many children the Map Run had. Files of one outcome are numbered
    ``SUCCEEDED_0``, ``SUCCEEDED_1``... as AWS numbers those it splits."""

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self.parameters = parameters
        config = parameters.get("WriterConfig") or {}
        self.transformation = config.get("Transformation", "NONE")
        self.lines = config.get("OutputType") == "JSONL"
        self.pending: dict[str, list[str]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
        self.sizes = dict.fromkeys(self.pending, 0)
        self.listed: dict[str, list[dict[str, Any]]] = {group: [] for group in _LISTED}

    def add(self, children: Iterable[ExecutionState]) -> list[tuple[str, str]]:
        """Take ``children`` in; the (key, text) of the files that are full."""
        ready: list[tuple[str, str]] = []
        for child in children:
            group = _FILES.get(child.status)
            if group is None:
                continue
            for entry in self._entries(child, group):
                text = _text(entry)
                self.pending[group].append(text)
                self.sizes[group] += len(text) + 1
            if self.sizes[group] >= FILE_BYTES:
                ready.append(self._flush(group))
        return ready

    def finish(self) -> list[tuple[str, str]]:
        """The files still held, then the manifest that lists them all."""
        ready = [self._flush(group) for group, held in self.pending.items() if held]
        manifest = {
            "DestinationBucket": self.parameters["Bucket"],
            "MapRunArn": self.parameters["MapRunArn"],
            "ResultFiles": self.listed,
        }
        return [*ready, (_key(self.parameters, "manifest.json"), _text(manifest))]

    def _entries(self, child: ExecutionState, group: str) -> list[Any]:
        if self.transformation == "NONE":
            return [_described(child)]
        if group != "SUCCEEDED":  # COMPACT and FLATTEN keep the outputs alone
            return []
        output = child.output
        flat = self.transformation == "FLATTEN" and isinstance(output, list)
        return list(output) if flat and isinstance(output, list) else [output]

    def _flush(self, group: str) -> tuple[str, str]:
        texts, self.pending[group], self.sizes[group] = self.pending[group], [], 0
        number = len(self.listed[group])
        key = _key(self.parameters, f"{group}_{number}.{'jsonl' if self.lines else 'json'}")
        body = "".join(t + "\n" for t in texts) if self.lines else "[" + ",".join(texts) + "]"
        self.listed[group].append({"Key": key, "Size": len(body.encode())})
        return key, body


def files(
    parameters: Mapping[str, Any], children: Iterable[ExecutionState]
) -> list[tuple[str, str]]:
    """The (key, text) of each file to write, the manifest last (JSON, or JSON Lines for
    ``OutputType`` JSONL): :class:`ResultFiles` for children at hand."""
    written = ResultFiles(parameters)
    return [*written.add(children), *written.finish()]


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
