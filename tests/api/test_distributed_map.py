"""Distributed Map on the real service: each item a child execution calling a worker.

One orchestrator process of this module's own (its own database, the API on a free port)
and the call-center workers, on the test broker; driven through boto3 as a user would:
the Map Run's history events, ListMapRuns/DescribeMapRun, the child executions listed by
their Map Run with their own histories, tolerated failures, UpdateMapRun on a running Map
Run, StopExecution stopping the children, and S3 (a moto server process, reached through
``AWS_ENDPOINT_URL``) read by an ItemReader and written by a ResultWriter.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.api.test_boto3 import ROLE, code, free_port, wait_done
from tests.api.test_versions import _purge
from tests.integration.test_integrations_on_broker import DUMMY_AWS
from tests.integrations.moto_server import MotoServer, moto_server  # noqa: F401
from tests.processes import WORKER_NAMES, Service, start, start_orchestrator

pytestmark = pytest.mark.integration

OPEN_CASE = "arn:aws:lambda:us-east-1:123456789012:function:OpenCaseFunction"


@pytest.fixture(scope="module")
def s3(moto_server: MotoServer) -> Any:  # noqa: F811
    """The test's own view of S3: a boto3 client of the moto server."""
    return boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1", **_keys())


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": DUMMY_AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": DUMMY_AWS["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture(scope="module")
def sfn(
    amqp_url: str,
    moto_server: MotoServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("distributed")
    env = {
        **os.environ,
        **DUMMY_AWS,
        "AMQP_URL": amqp_url,
        "PYTHONUNBUFFERED": "1",
        "AWS_ENDPOINT_URL": moto_server.url,
    }
    env.pop("SFN_ACCESS_KEY_ID", None)
    asyncio.run(_purge(amqp_url))
    port = free_port()
    services: list[Service] = []
    try:
        services.append(start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port))
        for worker in WORKER_NAMES:
            services.append(start(f"worker-{worker}", ["workers", worker], env, tmp))
        yield boto3.client(
            "stepfunctions",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="anything",
            aws_secret_access_key="anything",
            config=Config(retries={"max_attempts": 1}),
        )
    finally:
        for service in services:
            service.stop()


def machine(sfn: Any, definition: dict[str, Any]) -> str:
    created = sfn.create_state_machine(
        name=f"Dist{uuid.uuid4().hex[:10]}", definition=json.dumps(definition), roleArn=ROLE
    )
    return str(created["stateMachineArn"])


def distributed(processor: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A machine whose one state is a Distributed Map over ``$.items`` running ``processor``."""
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    **processor,
                },
                "End": True,
                **fields,
            }
        },
    }


def until(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("the condition never held")


def children(sfn: Any, map_run: str, status: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = sfn.list_executions(
            mapRunArn=map_run,
            **({"statusFilter": status} if status else {}),
            **({"nextToken": token} if token else {}),
        )
        found += page["executions"]
        token = page.get("nextToken")
        if not token:
            return found


def test_items_run_as_child_executions_that_call_a_worker(sfn: Any) -> None:
    arn = machine(
        sfn,
        distributed(
            {
                "StartAt": "Open",
                "States": {"Open": {"Type": "Task", "Resource": OPEN_CASE, "End": True}},
            },
            ItemSelector={"inputCaseID.$": "$$.Map.Item.Value"},
            MaxConcurrency=4,
            Label="Cases",
        ),
    )
    ids = [f"{i:03d}" for i in range(25)]
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": ids}))
    described = wait_done(sfn, started["executionArn"], timeout=60)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [
        {"Case": i, "Message": f"Case {i}: opened..."} for i in ids
    ]

    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert "MapRunStarted" in types and "MapRunSucceeded" in types
    assert not any(t.startswith("MapIteration") or t.startswith("Task") for t in types)
    map_run = next(e for e in events if e["type"] == "MapRunStarted")["mapRunStartedEventDetails"][
        "mapRunArn"
    ]
    machine_name = arn.rsplit(":", 1)[1]
    assert f":mapRun:{machine_name}/Cases:" in map_run

    runs = sfn.list_map_runs(executionArn=started["executionArn"])["mapRuns"]
    assert [r["mapRunArn"] for r in runs] == [map_run]
    assert runs[0]["stateMachineArn"].endswith(f":stateMachine:{machine_name}/Cases")
    run = sfn.describe_map_run(mapRunArn=map_run)
    assert run["status"] == "SUCCEEDED" and run["maxConcurrency"] == 4
    assert run["itemCounts"]["succeeded"] == 25 and run["itemCounts"]["total"] == 25
    assert run["executionCounts"]["failed"] == 0

    kids = children(sfn, map_run)
    assert len(kids) == 25 and {k["status"] for k in kids} == {"SUCCEEDED"}
    assert all(k["mapRunArn"] == map_run for k in kids)
    assert all(f":execution:{machine_name}/Cases:" in k["executionArn"] for k in kids)
    child = sfn.describe_execution(executionArn=kids[0]["executionArn"])
    assert child["mapRunArn"] == map_run
    assert json.loads(child["input"])["inputCaseID"] in ids
    history = [
        e["type"] for e in sfn.get_execution_history(executionArn=kids[0]["executionArn"])["events"]
    ]
    assert history[0] == "ExecutionStarted" and history[-1] == "ExecutionSucceeded"
    assert "LambdaFunctionSucceeded" in history
    for_child = sfn.describe_state_machine_for_execution(executionArn=kids[0]["executionArn"])
    assert for_child["mapRunArn"] == map_run and for_child["label"] == "Cases"
    assert json.loads(for_child["definition"])["States"]["Fan"]["Label"] == "Cases"
    # The parent's own executions list does not hold its children.
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["executionArn"] for e in listed] == [started["executionArn"]]


FAIL_ODD = {
    "StartAt": "Odd?",
    "States": {
        "Odd?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Bad"}],
            "Default": "Good",
        },
        "Bad": {"Type": "Fail", "Error": "Odd", "Cause": "an odd one"},
        "Good": {"Type": "Pass", "End": True},
    },
}


def test_failures_past_the_tolerated_count_fail_the_map_run(sfn: Any) -> None:
    arn = machine(sfn, distributed(FAIL_ODD, ToleratedFailureCount=1))
    items = [{"n": n % 2} for n in range(6)]  # three odd ones: one tolerated
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": items}))
    described = wait_done(sfn, started["executionArn"], timeout=60)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    failed = next(e for e in events if e["type"] == "MapRunFailed")
    assert failed["mapRunFailedEventDetails"]["error"] == "States.ExceedToleratedFailureThreshold"
    map_run = sfn.list_map_runs(executionArn=started["executionArn"])["mapRuns"][0]["mapRunArn"]
    run = sfn.describe_map_run(mapRunArn=map_run)
    assert run["status"] == "FAILED" and run["toleratedFailureCount"] == 1
    assert run["itemCounts"]["failed"] >= 2
    bad = children(sfn, map_run, "FAILED")
    assert bad and all(
        sfn.describe_execution(executionArn=k["executionArn"])["error"] == "Odd" for k in bad
    )

    # Within the tolerance, the failed item's place holds its error.
    arn = machine(sfn, distributed(FAIL_ODD, ToleratedFailureCount=1))
    started = sfn.start_execution(
        stateMachineArn=arn, input=json.dumps({"items": [{"n": 0}, {"n": 1}]})
    )
    described = wait_done(sfn, started["executionArn"], timeout=60)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output[0] == {"n": 0} and output[1]["Error"] == "Odd"


WAIT_TWO = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}}


def test_update_map_run_raises_the_concurrency_of_a_running_map_run(sfn: Any) -> None:
    arn = machine(sfn, distributed(WAIT_TWO, MaxConcurrency=1))
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": list(range(6))}))
    execution = started["executionArn"]
    map_run = until(lambda: sfn.list_map_runs(executionArn=execution)["mapRuns"])[0]["mapRunArn"]
    until(lambda: children(sfn, map_run, "RUNNING"))
    assert len(children(sfn, map_run)) == 1  # one at a time
    assert sfn.describe_map_run(mapRunArn=map_run)["itemCounts"]["pending"] == 5
    sfn.update_map_run(mapRunArn=map_run, maxConcurrency=6)
    assert sfn.describe_map_run(mapRunArn=map_run)["maxConcurrency"] == 6
    # The rest start at once, before the first child's wait is over.
    assert until(lambda: len(children(sfn, map_run, "RUNNING")) >= 3, timeout=1.5)
    assert wait_done(sfn, execution, timeout=30)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as caught:
        sfn.update_map_run(mapRunArn=map_run, maxConcurrency=2)
    assert code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        sfn.describe_map_run(mapRunArn=map_run.replace(map_run[-8:], "00000000"))
    assert code(caught) == "ResourceNotFound"


def test_stopping_the_parent_stops_its_children(sfn: Any) -> None:
    forever = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn = machine(sfn, distributed(forever))
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2, 3]}))
    execution = started["executionArn"]
    map_run = until(lambda: sfn.list_map_runs(executionArn=execution)["mapRuns"])[0]["mapRunArn"]
    until(lambda: len(children(sfn, map_run, "RUNNING")) == 3)
    sfn.stop_execution(executionArn=execution, error="Enough")
    assert until(lambda: len(children(sfn, map_run, "ABORTED")) == 3)
    assert sfn.describe_map_run(mapRunArn=map_run)["status"] == "ABORTED"


def test_an_item_reader_reads_s3_and_a_result_writer_writes_there(sfn: Any, s3: Any) -> None:
    bucket = f"dm-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    rows = "id;name\n001;Ada\n002;Grace\n003;Edsger\n004;Barbara\n"
    s3.put_object(Bucket=bucket, Key="people.csv", Body=rows.encode())
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "Parameters": {"Bucket.$": "$.bucket", "Key": "people.csv"},
        "ReaderConfig": {
            "InputType": "CSV",
            "CSVHeaderLocation": "FIRST_ROW",
            "CSVDelimiter": "SEMICOLON",
            "MaxItems": 3,
        },
    }
    # A batch of two rows per child; each child outputs its batch's names.
    processor = {
        "StartAt": "Names",
        "States": {
            "Names": {
                "Type": "Pass",
                "Parameters": {"names.$": "$.Items[*].name", "batch.$": "$.BatchInput.batch"},
                "End": True,
            }
        },
    }
    arn = machine(
        sfn,
        {
            "StartAt": "Fan",
            "States": {
                "Fan": {
                    "Type": "Map",
                    "ItemReader": reader,
                    "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"batch": "people"}},
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                        **processor,
                    },
                    "End": True,
                }
            },
        },
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"bucket": bucket}))
    described = wait_done(sfn, started["executionArn"], timeout=60)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [
        {"names": ["Ada", "Grace"], "batch": "people"},
        {"names": ["Edsger"], "batch": "people"},
    ]

    # The same, with the results written to S3 instead of returned.
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    definition["States"]["Fan"]["ResultWriter"] = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket.$": "$.bucket", "Prefix": "runs"},
    }
    arn = machine(sfn, definition)
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"bucket": bucket}))
    described = wait_done(sfn, started["executionArn"], timeout=60)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    map_run = output["MapRunArn"]
    run_id = map_run.rsplit(":", 1)[1]
    assert output["ResultWriterDetails"] == {
        "Bucket": bucket,
        "Key": f"runs/{run_id}/manifest.json",
    }
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"runs/{run_id}/manifest.json")["Body"].read()
    )
    assert manifest["MapRunArn"] == map_run and manifest["DestinationBucket"] == bucket
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    assert manifest["ResultFiles"]["FAILED"] == [] and succeeded["Key"].endswith("SUCCEEDED_0.json")
    body = s3.get_object(Bucket=bucket, Key=succeeded["Key"])["Body"].read()
    assert succeeded["Size"] == len(body)
    results = json.loads(body)
    assert sorted(json.loads(r["Output"])["names"][0] for r in results) == ["Ada", "Edsger"]
    assert {r["Status"] for r in results} == {"SUCCEEDED"}
    kids = {k["executionArn"] for k in children(sfn, map_run)}
    assert {r["ExecutionArn"] for r in results} == kids

    # An object past a task's 256 KiB is read (here 5 of its 3,000 items); past 2 MiB, the
    # most an ItemReader reads here, it is refused, not read into memory.
    big = json.dumps([{"name": f"n{i}", "pad": "x" * 100} for i in range(3000)])
    assert 262_144 < len(big) < 2 * 1024 * 1024
    s3.put_object(Bucket=bucket, Key="big.json", Body=big.encode())
    reader_big = {**reader, "Parameters": {"Bucket.$": "$.bucket", "Key": "big.json"}}
    reader_big["ReaderConfig"] = {"InputType": "JSON", "MaxItems": 5}
    definition["States"]["Fan"]["ItemReader"] = reader_big
    del definition["States"]["Fan"]["ResultWriter"]
    big_arn = machine(sfn, definition)
    started = sfn.start_execution(stateMachineArn=big_arn, input=json.dumps({"bucket": bucket}))
    described = wait_done(sfn, started["executionArn"], timeout=60)
    assert described["status"] == "SUCCEEDED", described
    assert [b["names"] for b in json.loads(described["output"])] == [
        ["n0", "n1"],
        ["n2", "n3"],
        ["n4"],
    ]
    huge = json.dumps([{"pad": "x" * 1000} for _ in range(2200)])
    assert len(huge) > 2 * 1024 * 1024
    s3.put_object(Bucket=bucket, Key="big.json", Body=huge.encode())
    started = sfn.start_execution(stateMachineArn=big_arn, input=json.dumps({"bucket": bucket}))
    described = wait_done(sfn, started["executionArn"], timeout=60)
    assert (described["status"], described["error"]) == ("FAILED", "States.ItemReaderFailed")
    assert "larger than 2097152 bytes" in described["cause"], described["cause"]

    # An object that is not there fails the Map Run with States.ItemReaderFailed.
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"bucket": bucket + "x"}))
    described = wait_done(sfn, started["executionArn"], timeout=60)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ItemReaderFailed"
    assert "NoSuchBucket" in described["cause"]


def test_a_redriven_parent_resumes_its_map_run_for_the_items_it_lacks(sfn: Any) -> None:
    # A child fails for item 2 while the parent has not been redriven.
    processor = {
        "StartAt": "Which",
        "States": {
            "Which": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.n", "NumericEquals": 2},
                            {"Variable": "$.redrive", "NumericEquals": 0},
                        ],
                        "Next": "Bad",
                    }
                ],
                "Default": "Good",
            },
            "Bad": {"Type": "Fail", "Error": "Flaky"},
            "Good": {"Type": "Pass", "End": True},
        },
    }
    arn = machine(
        sfn,
        distributed(
            processor,
            MaxConcurrency=1,
            ItemSelector={"n.$": "$$.Map.Item.Value", "redrive.$": "$$.Execution.RedriveCount"},
        ),
    )
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [0, 1, 2, 3]}))
    execution = started["executionArn"]
    failed = wait_done(sfn, execution, timeout=60)
    assert failed["status"] == "FAILED" and failed["redriveStatus"] == "REDRIVABLE"
    (run,) = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    first = {k["executionArn"] for k in children(sfn, run["mapRunArn"])}
    assert len(first) == 3  # items 0, 1 and the failed 2; item 3 never started

    sfn.redrive_execution(executionArn=execution)
    done = wait_done(sfn, execution, timeout=60)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [
        {"n": 0, "redrive": 0},
        {"n": 1, "redrive": 0},
        {"n": 2, "redrive": 1},
        {"n": 3, "redrive": 1},
    ]
    # The same Map Run goes on, redriven once; only items 2 and 3 ran again.
    assert [r["mapRunArn"] for r in sfn.list_map_runs(executionArn=execution)["mapRuns"]] == [
        run["mapRunArn"]
    ]
    described = sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    assert described["status"] == "SUCCEEDED" and described["redriveCount"] == 1
    assert "redriveDate" in described
    after = children(sfn, run["mapRunArn"])
    assert len(after) == 5 and first <= {k["executionArn"] for k in after}
    events = sfn.get_execution_history(executionArn=execution)["events"]
    redriven = next(e for e in events if e["type"] == "MapRunRedriven")
    assert redriven["mapRunRedrivenEventDetails"] == {
        "mapRunArn": run["mapRunArn"],
        "redriveCount": 1,
    }


def test_the_aws_cli_lists_and_describes_map_runs(sfn: Any) -> None:
    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        message = "no aws CLI in the virtualenv: pip install '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    arn = machine(
        sfn, distributed({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    )
    execution = sfn.start_execution(stateMachineArn=arn, input='{"items": [1, 2, 3]}')[
        "executionArn"
    ]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    cli = [str(aws), "stepfunctions", "--endpoint-url", sfn.meta.endpoint_url, "--output", "json"]

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], capture_output=True, text=True, env=env, timeout=60)

    listed = call("list-map-runs", "--execution-arn", execution)
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)["mapRuns"]
    described = call("describe-map-run", "--map-run-arn", run["mapRunArn"])
    assert described.returncode == 0, described.stderr
    assert json.loads(described.stdout)["itemCounts"]["succeeded"] == 3
    kids = call("list-executions", "--map-run-arn", run["mapRunArn"])
    assert len(json.loads(kids.stdout)["executions"]) == 3
    refused = call("update-map-run", "--map-run-arn", run["mapRunArn"], "--max-concurrency", "2")
    assert refused.returncode != 0 and "ValidationException" in refused.stderr


def test_an_s3_inventory_is_read_and_results_written_as_json_lines(sfn: Any, s3: Any) -> None:
    bucket = f"inv-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    rows = '"src","photos/a.jpg","10"\n"src","photos/b.jpg","20"\n"src","photos/c.jpg","30"\n'
    s3.put_object(Bucket=bucket, Key="inv/data/1.csv.gz", Body=gzip.compress(rows.encode()))
    manifest = {
        "sourceBucket": "src",
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/1.csv.gz", "size": 60, "MD5checksum": "x"}],
    }
    s3.put_object(Bucket=bucket, Key="inv/manifest.json", Body=json.dumps(manifest).encode())
    arn = machine(
        sfn,
        distributed(
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            ItemReader={
                "Resource": "arn:aws:states:::s3:getObject",
                "Parameters": {"Bucket": bucket, "Key": "inv/manifest.json"},
                "ReaderConfig": {"InputType": "MANIFEST", "MaxItems": 2},
            },
            ResultWriter={
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": bucket, "Prefix": "out"},
                "WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"},
            },
        ),
    )
    described = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"], 60)
    assert described["status"] == "SUCCEEDED", described
    key = json.loads(described["output"])["ResultWriterDetails"]["Key"]
    manifest_out = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    (written,) = manifest_out["ResultFiles"]["SUCCEEDED"]
    assert written["Key"].endswith("SUCCEEDED_0.jsonl")
    lines = s3.get_object(Bucket=bucket, Key=written["Key"])["Body"].read().decode().splitlines()
    assert sorted(json.loads(line)["Key"] for line in lines) == ["photos/a.jpg", "photos/b.jpg"]
    assert {json.loads(line)["Size"] for line in lines} <= {"10", "20"}
