"""The Map Run actions: DescribeMapRun, ListMapRuns, UpdateMapRun, with AWS's shapes.

A Map Run is a Distributed Map state's run of child executions. Its row in the store says
who started it and how it ended; the counts of its items and children are read from its
child executions (one grouped query) and, while it runs, from its parent's Map state.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestrator.api.errors import ApiError
from orchestrator.asl import map_run
from orchestrator.store.records import MapRunRecord

if TYPE_CHECKING:
    from orchestrator.api.actions import Handler, Params, StepFunctionsApi

_STATUSES = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timedOut",
    "ABORTED": "aborted",
    "RUNNING": "running",
}
MAX_CONCURRENCY = 10_000  # AWS's highest MaxConcurrency of a Distributed Map
# The actions of this module, as the API's ACTIONS lists its own.
MAP_RUN_ACTIONS = ("DescribeMapRun", "ListMapRuns", "UpdateMapRun")


class MapRuns:
    """The Map Run actions of one :class:`StepFunctionsApi`."""

    def __init__(self, api: StepFunctionsApi) -> None:
        self.api = api
        self.store = api.store

    def handlers(self) -> dict[str, Handler]:
        """The actions served here, by name."""
        return {
            "DescribeMapRun": self.describe_map_run,
            "ListMapRuns": self.list_map_runs,
            "UpdateMapRun": self.update_map_run,
        }

    def _run(self, arn: Any) -> MapRunRecord:
        if not isinstance(arn, str) or ":mapRun:" not in arn:
            raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
        found = self.store.map_run(arn)
        if found is None:
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        return found

    async def describe_map_run(self, params: Params) -> Params:
        """DescribeMapRun: status, limits, and the counts of items and child executions."""
        found = self._run(params.get("mapRunArn"))
        counts = self.counts(found)
        answer: Params = {
            "mapRunArn": found.arn,
            "executionArn": found.execution_arn,
            "status": found.status,
            "startDate": _epoch(found.start_date),
            "maxConcurrency": found.max_concurrency,
            "toleratedFailurePercentage": found.tolerated_percentage,
            "toleratedFailureCount": found.tolerated_count,
            "itemCounts": counts,
            "executionCounts": {k: v for k, v in counts.items() if k != "resultsWritten"},
            "redriveCount": found.redrive_count,
        }
        if found.redrive_date is not None:
            answer["redriveDate"] = _epoch(found.redrive_date)
        if found.stop_date is not None:
            answer["stopDate"] = _epoch(found.stop_date)
        return answer

    def counts(self, found: MapRunRecord) -> dict[str, int]:
        """AWS's itemCounts: children by status, and the items not yet started."""
        by_status = self.store.map_run_counts(found.arn)
        counts = {key: by_status.get(status, 0) for status, key in _STATUSES.items()}
        started = sum(by_status.values())
        total = started
        if found.status == "RUNNING":
            total = max(started, self._items(found))
        counts["pending"] = total - started
        counts["total"] = total
        counts["resultsWritten"] = counts["succeeded"] + counts["failed"]
        counts["failuresNotRedrivable"] = 0
        counts["pendingRedrive"] = 0
        return counts

    def _items(self, found: MapRunRecord) -> int:
        """How many items (or batches) the running Map Run has, from its parent's state."""
        parent = self.store.execution_by_arn(found.execution_arn)
        if parent is None:
            return 0
        for thread in parent.state.threads.values():
            if thread.map_run == found.arn:
                return len(thread.items)
        return 0

    async def list_map_runs(self, params: Params) -> Params:
        """ListMapRuns: the Map Runs an execution started, newest first, paged."""
        arn = params.get("executionArn")
        state, _ = self.api._execution(str(arn))
        runs = self.store.map_runs(state.execution_arn)
        query = {"action": "ListMapRuns", "execution": state.execution_arn}
        page, following = self.api.pages.page(runs, params, query)
        answer: Params = {
            "mapRuns": [
                {
                    key: value
                    for key, value in {
                        "executionArn": run.execution_arn,
                        "mapRunArn": run.arn,
                        "stateMachineArn": self.api.account.state_machine_arn(
                            map_run.machine_name(run.arn)
                        ),
                        "startDate": _epoch(run.start_date),
                        "stopDate": _epoch(run.stop_date) if run.stop_date else None,
                    }.items()
                    if value is not None
                }
                for run in page
            ]
        }
        if following is not None:
            answer["nextToken"] = following
        return answer

    async def update_map_run(self, params: Params) -> Params:
        """UpdateMapRun: new concurrency and tolerated failures for a running Map Run."""
        found = self._run(params.get("mapRunArn"))
        concurrency = params.get("maxConcurrency")
        count = params.get("toleratedFailureCount")
        percentage = params.get("toleratedFailurePercentage")
        if concurrency is None and count is None and percentage is None:
            raise ApiError(
                "ValidationException",
                "Provide at least one of maxConcurrency, toleratedFailureCount and"
                " toleratedFailurePercentage",
            )
        if concurrency is not None and not 0 <= concurrency <= MAX_CONCURRENCY:
            raise ApiError(
                "ValidationException", f"maxConcurrency must be from 0 to {MAX_CONCURRENCY}"
            )
        if count is not None and count < 0:
            raise ApiError("ValidationException", "toleratedFailureCount cannot be negative")
        if percentage is not None and not 0 <= percentage <= 100:
            raise ApiError(
                "ValidationException", "toleratedFailurePercentage must be between 0 and 100"
            )
        if found.status != "RUNNING":
            raise ApiError(
                "ValidationException", f"Map Run {found.arn} is {found.status}: it cannot change"
            )
        async with self.api._changing:
            ids = self.api.engine.update_map_run(
                found.arn,
                concurrency,
                count,
                float(percentage) if percentage is not None else None,
            )
        if ids is None:
            raise ApiError(
                "ValidationException", f"Map Run {found.arn} is not running: it cannot change"
            )
        await self.api._publish(ids)
        return {}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
