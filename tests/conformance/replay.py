"""Replaying the AWS-recorded service calls of ``integrations.jsonl`` (its README, "How to
replay and compare").

No service is called: each time the engine would call a resource, the next recorded call of
that state answers it with its recorded outcome, and the request the engine would have sent
is compared with the one AWS sent. A timed-out call is not answered at all: the task's own
timer (TimeoutSeconds, HeartbeatSeconds) times it out, on the runner's fake clock.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

import messages
from tests.conformance.corpus import _parse_one_level, normalise

_TOKEN_MASK = "<task_token:1>"
# The recordings mask task tokens several ways (<task_token:1>, <<task_token>:1>, <task-token:2>).
_RECORDED_TOKEN = re.compile(r"<+task[_-]token>?:\d+>")


class Replay:
    """The in-process caller (:data:`orchestrator.local_runner.Caller`) of one case."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.calls: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for call in case.get("service_calls") or []:
            self.calls[call["state"]].append(call)
        self.mismatches: list[str] = []

    def __call__(self, request: messages.IntegrationRequest) -> Sequence[messages.AnyTaskResult]:
        token, attempt = request.task_token, request.attempt
        if "activity_does_not_exist" in (self.case.get("notes") or []):
            # The activity was deleted before the run: AWS failed the execution, calling nothing.
            cause = f"The activity {request.resource} does not exist."
            return [
                messages.TaskCallFailed(
                    task_token=token, attempt=attempt, error="States.Runtime", cause=cause
                )
            ]
        if (
            request.service == "aws-sdk:s3"
            and "s3_objects" in self.case
            and not self.calls.get(request.state_name)
        ):
            # A Distributed Map's ItemReader: the recording lists the objects it read.
            return [self.s3_read(request)]
        queue = self.calls.get(request.state_name)
        if not queue:
            self.mismatches.append(f"{request.state_name}: a call AWS did not make")
            return [
                messages.TaskCallFailed(
                    task_token=token, attempt=attempt, error="Replay.NoRecordedCall"
                )
            ]
        call = queue.popleft()
        self.compare(request, call)
        return list(self.answer(request, call))

    def s3_read(self, request: messages.IntegrationRequest) -> messages.AnyTaskResult:
        """GetObject or ListObjectsV2 over the objects the recorded test put in S3."""
        token, attempt = request.task_token, request.attempt
        parameters = request.parameters if isinstance(request.parameters, dict) else {}
        bucket = parameters.get("Bucket")
        objects = [o for o in self.case["s3_objects"] if o["bucket"] == bucket]
        if request.action == "listObjectsV2":
            contents = [
                {
                    "Key": o["key"],
                    "Size": len(o["body"].encode()),
                    "ETag": f"<Etag-{o['key']}>",  # (masked, quotes and all, as recorded)
                    "LastModified": "<date>",
                    "StorageClass": "STANDARD",
                }
                for o in sorted(objects, key=lambda o: str(o["key"]))
            ]
            answer: dict[str, Any] = {"Contents": contents, "KeyCount": len(contents)}
            return messages.TaskSucceeded(task_token=token, attempt=attempt, output=answer)
        found = [o for o in objects if o["key"] == parameters.get("Key")]
        if not found:
            return messages.TaskCallFailed(
                task_token=token, attempt=attempt, error="S3.NoSuchKeyException", cause="absent"
            )
        answer = {"Body": found[0]["body"], "ContentLength": len(found[0]["body"].encode())}
        return messages.TaskSucceeded(task_token=token, attempt=attempt, output=answer)

    def compare(self, request: messages.IntegrationRequest, call: dict[str, Any]) -> None:
        """Note where the request differs from what AWS sent."""
        where = request.state_name
        if call["kind"] == "task":
            resource = request.action + request.pattern
            if (request.service, resource) != (call["resource_type"], call["resource"]):
                self.mismatches.append(
                    f"{where}: resource {request.service}:{resource}, AWS called"
                    f" {call['resource_type']}:{call['resource']}"
                )
            recorded = call.get("parameters")
        else:
            recorded = call.get("input")
        sent = _parsed(self.normalised(request.parameters, token=request.task_token))
        recorded = _parsed(json.loads(_RECORDED_TOKEN.sub(_TOKEN_MASK, json.dumps(recorded))))
        if sent != recorded:
            self.mismatches.append(
                f"{where}: sent {json.dumps(sent)[:300]}, AWS sent {json.dumps(recorded)[:300]}"
            )

    def normalised(self, value: Any, *, token: str) -> Any:
        """A value as the recording normalised the parameters it shows."""
        text = json.dumps(value).replace(token, _TOKEN_MASK)
        return normalise(_parse_one_level(json.loads(text)), self.case)

    def answer(
        self, request: messages.IntegrationRequest, call: dict[str, Any]
    ) -> list[messages.AnyTaskResult]:
        """The results that replay the recorded outcome of ``call``."""
        token, attempt = request.task_token, request.attempt
        results: list[messages.AnyTaskResult] = []
        if call["kind"] == "activity" and call.get("started"):
            worker = (
                call["started"].get("worker_name") if isinstance(call["started"], dict) else None
            )
            results.append(messages.TaskStarted(task_token=token, worker_name=worker))
        if call.get("submitted"):
            results.append(
                messages.TaskSubmitted(
                    task_token=token, attempt=attempt, output=call["submitted"]["output"]
                )
            )
        callback = call["kind"] == "activity" or request.pattern == ".waitForTaskToken"
        outcome = call["outcome"]
        if outcome == "succeeded":
            output = call.get("output")
            if callback:
                results.append(messages.TaskCallbackSuccess(task_token=token, output=output))
            else:
                results.append(
                    messages.TaskSucceeded(
                        task_token=token,
                        attempt=attempt,
                        output=output,
                        response=request.integration == "invoke",
                    )
                )
        elif outcome == "failed":
            error, cause = call.get("error"), call.get("cause")
            if cause is not None and not isinstance(cause, str):
                cause = json.dumps(cause, separators=(",", ":"))
            if callback:
                results.append(
                    messages.TaskCallbackFailure(task_token=token, error=error, cause=cause)
                )
            else:
                results.append(
                    messages.TaskCallFailed(
                        task_token=token, attempt=attempt, error=error or "", cause=cause
                    )
                )
        return results


def _parsed(value: Any) -> Any:
    """``value`` with every string holding a JSON object or array parsed, at every level.

    AWS shows a JSON text it sends as a string (EventBridge ``Detail``, SNS ``Message``) as
    that string, and the recording parsed some of them one level: compared parsed, the text
    and the object it holds are the same request.
    """
    if isinstance(value, list):
        return [_parsed(item) for item in value]
    if isinstance(value, dict):
        return {key: _parsed(item) for key, item in value.items()}
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return _parsed(json.loads(value))
        except ValueError:
            return value
    return value
