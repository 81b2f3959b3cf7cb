"""The AWS-recorded Distributed Map cases that read S3 (``s3_item_reader``), run with S3 served
by a real moto server process through the ``aws`` target, as the service runs them.

The replay test (tests/conformance) answers the reads from the recording in-process; here
each case's objects are put in moto, and the ItemReader's ``getObject``/``listObjectsV2``
go through botocore to it, so the body decoding and the listing's shape are the target's
own. Each case must end as AWS recorded: status, error, cause and output.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from typing import Any

import botocore.session
import pytest

import messages
from orchestrator.integrations.aws.call import AwsCall, AwsCaller
from orchestrator.integrations.aws.failures import TaskCallFailed
from tests.conformance.corpus import normalise, run_recorded
from tests.integrations.moto_server import MotoServer, moto_server  # noqa: F401
from tests.integrations.test_aws_target import CORPUS, REGION

LISTING = "c1c9f131ef6c"  # the recording masked its ETags and dates: compared without them


def cases() -> list[dict[str, Any]]:
    if not CORPUS.exists():
        message = f"the conformance corpus is not at {CORPUS}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    found = []
    for line in CORPUS.read_text().splitlines():
        case = json.loads(line)
        if "s3_item_reader" in case.get("tags", []):
            found.append(case)
    return found


class MotoS3:
    """The in-process runner's caller: S3 calls go to moto through the aws target."""

    def __init__(self, caller: AwsCaller) -> None:
        self.caller = caller
        self.calls = 0

    def __call__(self, request: messages.IntegrationRequest) -> Sequence[messages.AnyTaskResult]:
        assert request.service == "aws-sdk:s3", request.service
        self.calls += 1
        token, attempt = request.task_token, request.attempt
        call = AwsCall(request.service, request.action, "", request.parameters, REGION)
        try:
            output = self.caller.call(call)
        except TaskCallFailed as failed:
            return [
                messages.TaskCallFailed(
                    task_token=token, attempt=attempt, error=failed.error, cause=failed.cause
                )
            ]
        return [messages.TaskSucceeded(task_token=token, attempt=attempt, output=output)]


def test_recorded_s3_item_reader_cases_run_against_moto(
    moto_server: MotoServer,  # noqa: F811
    session: botocore.session.Session,
) -> None:
    s3 = session.create_client("s3", region_name=REGION, endpoint_url=moto_server.url)
    caller = MotoS3(AwsCaller(session, moto_server.url))
    recorded = cases()
    assert len(recorded) == 26
    mismatches: dict[str, str] = {}
    for case in recorded:
        for stored in case.get("s3_objects") or []:
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=stored["bucket"])
            s3.put_object(Bucket=stored["bucket"], Key=stored["key"], Body=stored["body"].encode())
        run = run_recorded(case, caller)
        assert run.result is not None, (case["id"], run.refusal)
        state, expected = run.result.state, case["expected"]
        got: Any = (state.status, state.error, state.cause)
        want: Any = (expected["status"], expected.get("error"), expected.get("cause"))
        if got == want and "output" in expected:
            events = [event.to_aws() for event in run.result.history]
            got = normalise(state.output, case, events)
            want = expected["output"]
            if case["id"] == LISTING:
                got = [
                    {k: v for k, v in i.items() if k not in ("Etag", "LastModified")} for i in got
                ]
                want = [
                    {k: v for k, v in i.items() if k not in ("Etag", "LastModified")} for i in want
                ]
                # The real listing: S3's quoted ETags and LastModified in epoch seconds.
                listed = state.output
                assert all(i["Etag"].startswith('"') for i in listed), listed
                assert all(isinstance(i["LastModified"], int | float) for i in listed), listed
        if got != want:
            mismatches[case["id"]] = f"{json.dumps(got)[:300]} != {json.dumps(want)[:300]}"
        for stored in case.get("s3_objects") or []:
            s3.delete_object(Bucket=stored["bucket"], Key=stored["key"])
    assert caller.calls >= 20  # the reads went to moto
    assert not mismatches, json.dumps(mismatches, indent=1)
