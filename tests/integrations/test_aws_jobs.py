"""The ``.sync`` pattern of the ``aws`` target: jobs started, polled and stopped as AWS does.

The services moto runs without Docker (ECS, Athena, Glue, CodeBuild, SageMaker, EMR, EMR
Serverless, Bedrock) are run on a real moto server process, with ``sleep`` injected so no
test waits; the other outcomes (failures, the services moto lacks) go through a fake
:class:`JobService`. The recorded ``ecs:runTask.sync`` runs are replayed through the poller.
"""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape

import messages
from orchestrator.asl import errors
from orchestrator.asl.services import OPTIMIZED_INTEGRATIONS, RUN_JOB
from orchestrator.integrations.aws import jobs
from orchestrator.integrations.aws.call import DEFAULT_CONFIG, AwsCall, AwsCaller
from orchestrator.integrations.aws.failures import TaskCallFailed, UnsupportedCall
from orchestrator.integrations.aws.jobs import (
    JobStopped,
    Unanswered,
    follow_job,
    poller_for,
    run_job,
)
from orchestrator.integrations.mock_config import MockConfig
from orchestrator.integrations.mock_target import MockTarget
from orchestrator.integrations.routing import Routing
from orchestrator.integrations.targets import Targets
from tests.integrations.moto_server import MotoServer, moto_server  # noqa: F401

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/job-role"
CORPUS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "integrations.jsonl"
)
V1_CAUSE = r" \(Service: {service}; Status Code: {status}; Error Code: {code}; Request ID: \S+; Proxy: null\)$"

Client = Callable[[str], Any]


@pytest.fixture(scope="module")
def caller(moto_server: MotoServer, session: botocore.session.Session) -> AwsCaller:  # noqa: F811
    # The same bounds as DEFAULT_CONFIG in a Config of our own: botocore rewrites a client
    # config's retries in place (max_attempts -> total_max_attempts), which would change
    # DEFAULT_CONFIG for the tests that run after these.
    return AwsCaller(session, moto_server.url, Config(retries=dict(DEFAULT_CONFIG.retries)))


@pytest.fixture(scope="module")
def client(moto_server: MotoServer, session: botocore.session.Session) -> Client:  # noqa: F811
    return lambda name: session.create_client(
        name, region_name=REGION, endpoint_url=moto_server.url
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Run:
    """One run_job: what was submitted and slept, and its result or failure."""

    def __init__(
        self,
        caller: AwsCaller,
        service: str,
        action: str,
        parameters: dict[str, Any],
        should_stop: Callable[[], bool] = lambda: False,
        on_sleep: Callable[[Run], None] = lambda _: None,
        max_seconds: float = 3600,
    ) -> None:
        self.submitted: list[Any] = []
        self.sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            on_sleep(self)

        call = AwsCall(service, action, ".sync", parameters, REGION)
        self.result: Any = None
        self.failure: TaskCallFailed | None = None
        try:
            self.result = run_job(
                caller,
                call,
                submitted=self.submitted.append,
                should_stop=should_stop,
                sleep=sleep,
                max_seconds=max_seconds,
            )
        except TaskCallFailed as failure:
            self.failure = failure


def assert_shaped_as_v1(result: dict[str, Any]) -> None:
    """The described job as optimized integrations give results: keys in order, no HTTP
    metadata."""
    assert "SdkHttpMetadata" not in result and "SdkResponseMetadata" not in result
    assert list(result) == sorted(result)


# -- on a moto server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ecs_cluster(client: Client) -> str:
    ecs = client("ecs")
    cluster = unique("cluster")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family="job", containerDefinitions=[{"name": "main", "image": "busybox", "memory": 128}]
    )
    return cluster


def ecs_task(cluster: str) -> dict[str, Any]:
    return {
        "Cluster": cluster,
        "TaskDefinition": "job",
        "LaunchType": "FARGATE",
        "StartedBy": "AWS Step Functions",
    }


def test_ecs_run_task_is_described_until_stopped(
    caller: AwsCaller, client: Client, ecs_cluster: str
) -> None:
    run = Run(caller, "ecs", "runTask", ecs_task(ecs_cluster))
    [started] = run.submitted
    assert "SdkHttpMetadata" in started and started["Failures"] == []
    assert started["Tasks"][0]["LastStatus"] == "RUNNING"
    task = run.result
    assert task["TaskArn"] == started["Tasks"][0]["TaskArn"]
    assert task["LastStatus"] == "STOPPED"
    assert task["Containers"][0]["ExitCode"] == 0
    assert_shaped_as_v1(task)
    # moto's tasks stop after four describes (RUNNING, DEACTIVATING, ..., STOPPED); polls
    # come 5 s apart at first, then half as long again each time, in sleeps of 1 s at most.
    assert sum(run.sleeps) == 5 + 7.5 + 11.25 + 16.875
    assert max(run.sleeps) <= 1


def test_ecs_start_answer_is_the_request_response_answer(
    caller: AwsCaller, ecs_cluster: str
) -> None:
    run = Run(caller, "ecs", "runTask", ecs_task(ecs_cluster))
    direct = caller.call(AwsCall("ecs", "runTask", "", ecs_task(ecs_cluster), REGION))
    assert list(run.submitted[0]) == list(direct)
    assert list(run.submitted[0]["Tasks"][0]) == list(direct["Tasks"][0])


def test_ecs_task_is_stopped_when_the_task_stops_waiting(
    caller: AwsCaller, client: Client, ecs_cluster: str
) -> None:
    run = Run(caller, "ecs", "runTask", ecs_task(ecs_cluster), should_stop=lambda: True)
    assert isinstance(run.failure, JobStopped)
    assert run.failure.error == errors.TIMEOUT
    assert run.sleeps == []
    arn = run.submitted[0]["Tasks"][0]["TaskArn"]
    [task] = client("ecs").describe_tasks(cluster=ecs_cluster, tasks=[arn])["tasks"]
    assert (task["desiredStatus"], task["stoppedReason"]) == ("STOPPED", jobs._STOP_REASON)


def test_ecs_start_failure_is_the_services_error(caller: AwsCaller) -> None:
    run = Run(caller, "ecs", "runTask", ecs_task(unique("missing")))
    assert run.failure is not None and run.submitted == []
    assert run.failure.error == "ECS.ClusterNotFoundException"


@pytest.fixture
def athena_progression(moto_server: MotoServer) -> Iterator[None]:  # noqa: F811
    """Queries move one state per GetQueryExecution (QUEUED, RUNNING, SUCCEEDED)."""
    set_transition(moto_server, "athena::execution", {"progression": "manual", "times": 1})
    yield
    set_transition(moto_server, "athena::execution", None)


def set_transition(server: MotoServer, model: str, transition: dict[str, Any] | None) -> None:
    action = "set-transition" if transition else "unset-transition"
    body = json.dumps({"model_name": model, "transition": transition}).encode()
    request = urllib.request.Request(f"{server.url}/moto-api/state-manager/{action}", body)
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 201


QUERY = {"QueryString": "SELECT 1", "ResultConfiguration": {"OutputLocation": "s3://results/"}}


@pytest.mark.usefixtures("athena_progression")
def test_athena_query_result_is_get_query_execution(caller: AwsCaller) -> None:
    run = Run(caller, "athena", "startQueryExecution", QUERY)
    [started] = run.submitted
    execution = run.result["QueryExecution"]
    assert list(run.result) == ["QueryExecution"]
    assert execution["QueryExecutionId"] == started["QueryExecutionId"]
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert isinstance(execution["Status"]["SubmissionDateTime"], int)  # epoch millis
    assert sum(run.sleeps) == 5 + 7.5  # RUNNING, then SUCCEEDED


@pytest.mark.usefixtures("athena_progression")
def test_athena_query_cancelled_elsewhere_fails_with_its_description(
    caller: AwsCaller, client: Client
) -> None:
    athena = client("athena")

    def cancel(run: Run) -> None:
        athena.stop_query_execution(QueryExecutionId=run.submitted[0]["QueryExecutionId"])

    run = Run(caller, "athena", "startQueryExecution", QUERY, on_sleep=cancel)
    assert run.failure is not None and run.failure.error == errors.TASK_FAILED
    cause = json.loads(run.failure.cause)
    assert cause["QueryExecution"]["Status"]["State"] == "CANCELLED"
    assert cause["QueryExecution"]["QueryExecutionId"] == run.submitted[0]["QueryExecutionId"]


@pytest.mark.usefixtures("athena_progression")
def test_athena_query_is_stopped_when_the_task_stops_waiting(
    caller: AwsCaller, client: Client
) -> None:
    polls: list[bool] = []

    def after_a_poll() -> bool:
        polls.append(True)
        return len(polls) > 6  # the first 5 s pause, a poll, then stop

    run = Run(caller, "athena", "startQueryExecution", QUERY, should_stop=after_a_poll)
    assert isinstance(run.failure, JobStopped)
    query_id = run.submitted[0]["QueryExecutionId"]
    state = client("athena").get_query_execution(QueryExecutionId=query_id)
    assert state["QueryExecution"]["Status"]["State"] == "CANCELLED"


def test_glue_job_run_result_is_the_run(caller: AwsCaller, client: Client) -> None:
    job = unique("job")
    client("glue").create_job(
        Name=job, Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"}
    )
    run = Run(caller, "glue", "startJobRun", {"JobName": job})
    [started] = run.submitted
    # "The JobName field is extracted from the request and inserted into the response".
    assert (started["JobName"], "SdkHttpMetadata" in started) == (job, True)
    assert run.result["Id"] == started["JobRunId"]
    assert (run.result["JobName"], run.result["JobRunState"]) == (job, "SUCCEEDED")
    assert isinstance(run.result["StartedOn"], int)
    assert_shaped_as_v1(run.result)


def test_glue_start_failure_reads_as_sdk_v1(caller: AwsCaller) -> None:
    run = Run(caller, "glue", "startJobRun", {"JobName": unique("missing")})
    assert run.failure is not None and run.submitted == []
    assert run.failure.error == "Glue.EntityNotFoundException"
    pattern = V1_CAUSE.format(service="AWSGlue", status=400, code="EntityNotFoundException")
    assert re.search(pattern, run.failure.cause)


def test_codebuild_build_result_is_the_build(caller: AwsCaller, client: Client) -> None:
    project = unique("project")
    client("codebuild").create_project(
        name=project,
        source={"type": "S3", "location": "bucket/key"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "image",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=ROLE,
    )
    run = Run(caller, "codebuild", "startBuild", {"ProjectName": project})
    assert run.submitted[0]["Build"]["BuildStatus"] == "IN_PROGRESS"
    assert list(run.result) == ["Build"]
    assert run.result["Build"]["Id"] == run.submitted[0]["Build"]["Id"]
    assert run.result["Build"]["BuildStatus"] == "SUCCEEDED"


def test_sagemaker_training_job_result_is_its_description(caller: AwsCaller) -> None:
    name = unique("training")
    run = Run(
        caller,
        "sagemaker",
        "createTrainingJob",
        {
            "TrainingJobName": name,
            "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    )
    assert set(run.submitted[0]) == {"SdkHttpMetadata", "SdkResponseMetadata", "TrainingJobArn"}
    assert (run.result["TrainingJobName"], run.result["TrainingJobStatus"]) == (name, "Completed")
    assert run.result["ModelArtifacts"]["S3ModelArtifacts"].startswith("s3://bucket/out")
    assert_shaped_as_v1(run.result)


def test_sagemaker_transform_job_result_is_its_description(caller: AwsCaller) -> None:
    name = unique("transform")
    run = Run(
        caller,
        "sagemaker",
        "createTransformJob",
        {
            "TransformJobName": name,
            "ModelName": "model",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}
            },
            "TransformOutput": {"S3OutputPath": "s3://b/out"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        },
    )
    assert (run.result["TransformJobName"], run.result["TransformJobStatus"]) == (
        name,
        "Completed",
    )


def test_emr_create_cluster_waits_for_waiting_and_answers_the_cluster_id(
    caller: AwsCaller, client: Client
) -> None:
    run = Run(
        caller,
        "elasticmapreduce",
        "createCluster",
        {
            "Name": unique("cluster"),
            "ReleaseLabel": "emr-6.0.0",
            "Instances": {
                "KeepJobFlowAliveWhenNoSteps": True,
                "InstanceCount": 1,
                "MasterInstanceType": "m5.xlarge",
            },
            "JobFlowRole": "EMR_EC2_DefaultRole",
            "ServiceRole": "EMR_DefaultRole",
        },
    )
    # createCluster answers ClusterId where RunJobFlow answers JobFlowId.
    assert list(run.result) == ["ClusterArn", "ClusterId"]
    assert "JobFlowId" not in run.submitted[0]
    cluster = client("emr").describe_cluster(ClusterId=run.result["ClusterId"])["Cluster"]
    assert cluster["Status"]["State"] == "WAITING"


def test_emr_serverless_job_run_result_is_get_job_run(caller: AwsCaller, client: Client) -> None:
    app = client("emr-serverless").create_application(
        name=unique("app"), releaseLabel="emr-6.6.0", type="SPARK"
    )["applicationId"]
    run = Run(
        caller,
        "emr-serverless",
        "startJobRun",
        {
            "ApplicationId": app,
            "ExecutionRoleArn": ROLE,
            "ClientToken": unique("token"),
            "JobDriver": {"SparkSubmit": {"EntryPoint": "s3://bucket/entry.py"}},
        },
    )
    job_run = run.result["JobRun"]
    assert (job_run["JobRunId"], job_run["State"]) == (run.submitted[0]["JobRunId"], "SUCCESS")


def test_a_job_past_max_seconds_is_stopped_and_times_out(caller: AwsCaller, client: Client) -> None:
    name = unique("customization")
    run = Run(  # moto's customization jobs stay InProgress
        caller,
        "bedrock",
        "createModelCustomizationJob",
        {
            "JobName": name,
            "CustomModelName": unique("model"),
            "RoleArn": ROLE,
            "BaseModelIdentifier": "amazon.titan-text-express-v1",
            "TrainingDataConfig": {"S3Uri": "s3://bucket/train"},
            "OutputDataConfig": {"S3Uri": "s3://bucket/out"},
            "HyperParameters": {},
        },
        max_seconds=100,
    )
    assert run.failure is not None and run.failure.error == errors.TIMEOUT
    assert sum(run.sleeps) == 100
    job = client("bedrock").get_model_customization_job(jobIdentifier=name)
    assert job["status"] == "Stopped"


# -- the steps, one call each (the service's durable polling) -----------------------------------


def athena_call(query: dict[str, Any] = QUERY) -> AwsCall:
    return AwsCall("athena", "startQueryExecution", ".sync", query, REGION)


@pytest.mark.usefixtures("athena_progression")
def test_athena_query_in_steps_is_pending_then_done(caller: AwsCaller) -> None:
    call = athena_call()
    started = jobs.start_job(caller, call)
    assert "SdkHttpMetadata" in started and started["QueryExecutionId"]
    # moto moves the query one state per describe: RUNNING, then SUCCEEDED.
    assert jobs.poll_job(caller, call, started) == jobs.JobPending(0)
    done = jobs.poll_job(caller, call, started)
    assert isinstance(done, jobs.JobDone)
    execution = done.output["QueryExecution"]
    assert (execution["QueryExecutionId"], execution["Status"]["State"]) == (
        started["QueryExecutionId"],
        "SUCCEEDED",
    )
    assert isinstance(execution["Status"]["SubmissionDateTime"], int)  # epoch millis


@pytest.mark.usefixtures("athena_progression")
def test_the_steps_answer_as_run_job_does(caller: AwsCaller) -> None:
    run = Run(caller, "athena", "startQueryExecution", QUERY)
    call = athena_call()
    started = jobs.start_job(caller, call)
    progress = jobs.poll_job(caller, call, started)
    while isinstance(progress, jobs.JobPending):
        progress = jobs.poll_job(caller, call, started)
    assert shape(started) == shape(run.submitted[0])
    assert shape(progress.output) == shape(run.result)
    assert progress.output["QueryExecution"]["Status"]["State"] == "SUCCEEDED"


def shape(value: Any) -> Any:
    """The keys of ``value``, in order, all the way down."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    return type(value).__name__


@pytest.mark.usefixtures("athena_progression")
def test_stop_job_cancels_the_query(caller: AwsCaller, client: Client) -> None:
    call = athena_call()
    started = jobs.start_job(caller, call)
    assert jobs.poll_job(caller, call, started) == jobs.JobPending(0)
    jobs.stop_job(caller, call, started)
    answer = client("athena").get_query_execution(QueryExecutionId=started["QueryExecutionId"])
    assert answer["QueryExecution"]["Status"]["State"] == "CANCELLED"
    with pytest.raises(TaskCallFailed) as failed:  # the next poll sees it ended badly
        jobs.poll_job(caller, call, started)
    assert failed.value.error == errors.TASK_FAILED
    assert json.loads(failed.value.cause)["QueryExecution"]["Status"]["State"] == "CANCELLED"


def test_stop_job_of_a_job_that_is_gone_is_logged_not_raised(
    caller: AwsCaller, caplog: pytest.LogCaptureFixture
) -> None:
    jobs.stop_job(caller, athena_call(), {"QueryExecutionId": "no-such-query"})
    assert "could not stop a job with StopQueryExecution" in caplog.text


def test_start_job_failure_is_the_services_error(caller: AwsCaller) -> None:
    call = AwsCall("glue", "startJobRun", ".sync", {"JobName": unique("missing")}, REGION)
    with pytest.raises(TaskCallFailed) as failed:
        jobs.start_job(caller, call)
    assert failed.value.error == "Glue.EntityNotFoundException"


def test_glue_job_in_steps(caller: AwsCaller, client: Client) -> None:
    job = unique("job")
    client("glue").create_job(
        Name=job, Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"}
    )
    call = AwsCall("glue", "startJobRun", ".sync", {"JobName": job}, REGION)
    started = jobs.start_job(caller, call)
    assert started["JobName"] == job
    progress = jobs.poll_job(caller, call, started)
    while isinstance(progress, jobs.JobPending):
        progress = jobs.poll_job(caller, call, started)
    assert (progress.output["Id"], progress.output["JobRunState"]) == (
        started["JobRunId"],
        "SUCCEEDED",
    )
    assert len(client("glue").get_job_runs(JobName=job)["JobRuns"]) == 1


def test_unanswered_polls_are_pending_until_the_limit(session: botocore.session.Session) -> None:
    # Nothing listens there: each describe gets no answer at all (one attempt, no retries).
    unreachable = AwsCaller(
        session, f"http://127.0.0.1:{closed_port()}", Config(retries={"total_max_attempts": 1})
    )
    call = athena_call()
    started = {"QueryExecutionId": "q"}
    assert jobs.poll_job(unreachable, call, started) == jobs.JobPending(1)
    limit = jobs._MAX_MISSES
    assert jobs.poll_job(unreachable, call, started, limit - 2) == jobs.JobPending(limit - 1)
    with pytest.raises(Unanswered):
        jobs.poll_job(unreachable, call, started, limit - 1)


def closed_port() -> int:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return int(free.getsockname()[1])


@pytest.mark.usefixtures("athena_progression")
def test_a_visible_job_resets_the_misses(caller: AwsCaller) -> None:
    call = athena_call()
    started = jobs.start_job(caller, call)
    assert jobs.poll_job(caller, call, started, misses=5) == jobs.JobPending(0)


def test_the_steps_refuse_what_they_do_not_run(caller: AwsCaller) -> None:
    call = AwsCall("eks", "runJob", ".sync", {}, REGION)
    assert not jobs.runs_job(call)
    assert not jobs.runs_job(AwsCall("athena", "startQueryExecution", "", {}, REGION))
    assert jobs.runs_job(athena_call())
    assert jobs.runs_job(AwsCall("glue", "startJobRun", ".sync:2", {}, REGION))
    for step in (
        lambda: jobs.start_job(caller, call),
        lambda: jobs.poll_job(caller, call, {}),
        lambda: jobs.stop_job(caller, call, {}),
    ):
        with pytest.raises(UnsupportedCall):
            step()


def test_poll_delays_back_off_to_a_minute() -> None:
    assert jobs.poll_delays(5) == [5, 7.5, 11.25, 16.875, 25.3125, 37.96875, 56.953125, 60]
    assert jobs.poll_delays(120) == [120]  # never shorter than the first
    assert jobs.next_poll_delay(60, 5) == 60
    small = jobs.poll_delays(0.2)
    assert small[:3] == [0.2, pytest.approx(0.3), pytest.approx(0.45)] and small[-1] == 60


# -- the steps through Targets, as the service takes them ----------------------------------------


def job_request(
    service: str, action: str, parameters: Any, pattern: str = ".sync", **fields: Any
) -> messages.IntegrationRequest:
    return messages.IntegrationRequest(
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:M:e",
        execution_name="e",
        state_machine_name="M",
        state_name="Job",
        resource=f"arn:aws:states:::{service}:{action}{pattern}",
        service=service,
        action=action,
        pattern=pattern,  # type: ignore[arg-type]
        region=REGION,
        task_token=unique("token"),
        attempt=2,
        parameters=parameters,
        **fields,
    )


@pytest.fixture(scope="module")
def targets(caller: AwsCaller) -> Targets:
    return Targets(aws=lambda endpoint: caller)


@pytest.mark.usefixtures("athena_progression")
def test_targets_run_a_job_in_steps_with_task_results(targets: Targets) -> None:
    request = job_request("athena", "startQueryExecution", QUERY)
    assert targets.runs_job(request)
    started = targets.start_job(request)
    assert isinstance(started, messages.TaskSubmitted)
    assert (started.task_token, started.attempt) == (request.task_token, 2)
    assert targets.poll_job(request, started.output) == jobs.JobPending(0)
    done = targets.poll_job(request, started.output)
    assert isinstance(done, messages.TaskSucceeded)
    assert (done.task_token, done.attempt, done.response) == (request.task_token, 2, False)
    assert done.output["QueryExecution"]["Status"]["State"] == "SUCCEEDED"  # type: ignore[index, call-overload]


@pytest.mark.usefixtures("athena_progression")
def test_targets_stop_a_job_and_its_next_poll_fails_the_task(
    targets: Targets, client: Client
) -> None:
    request = job_request("athena", "startQueryExecution", QUERY)
    started = targets.start_job(request)
    assert isinstance(started, messages.TaskSubmitted) and isinstance(started.output, dict)
    targets.stop_job(request, started.output)
    query = client("athena").get_query_execution(
        QueryExecutionId=started.output["QueryExecutionId"]
    )
    assert query["QueryExecution"]["Status"]["State"] == "CANCELLED"
    failed = targets.poll_job(request, started.output)
    assert isinstance(failed, messages.TaskCallFailed) and failed.error == errors.TASK_FAILED


def test_targets_start_failure_is_the_tasks_failure(targets: Targets) -> None:
    failed = targets.start_job(job_request("glue", "startJobRun", {"JobName": unique("gone")}))
    assert isinstance(failed, messages.TaskCallFailed)
    assert (failed.error, failed.attempt) == ("Glue.EntityNotFoundException", 2)


def test_targets_run_in_steps_only_the_aws_targets_jobs(caller: AwsCaller) -> None:
    routing = Routing.parse(json.dumps({"Routes": [{"Resource": "glue:*", "Target": "worker"}]}))
    mocks = MockConfig.parse(
        json.dumps(
            {
                "StateMachines": {"M": {"TestCases": {"Mocked": {"Job": "Done"}}}},
                "MockedResponses": {"Done": {"0": {"Return": {}}}},
            }
        )
    )
    targets = Targets(routing, MockTarget(mocks), aws=lambda endpoint: caller)
    assert targets.runs_job(job_request("athena", "startQueryExecution", QUERY))
    assert targets.runs_job(job_request("athena", "startQueryExecution", QUERY, ".sync:2"))
    assert not targets.runs_job(job_request("athena", "startQueryExecution", QUERY, ""))
    assert not targets.runs_job(job_request("glue", "startJobRun", {}))  # a worker's
    assert not targets.runs_job(job_request("eks", "runJob", {}))  # no poller: call() refuses it
    assert not targets.runs_job(job_request("states", "startExecution", {}))  # the engine's
    mocked = job_request("athena", "startQueryExecution", QUERY, test_case="Mocked")
    assert not targets.runs_job(mocked)


# -- the recorded runs of ecs:runTask.sync ------------------------------------------------------


def recorded_ecs_sync_calls() -> list[dict[str, Any]]:
    if not CORPUS.is_file():
        message = f"conformance corpus not found at {CORPUS} (it sits beside the checkout in CI)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with CORPUS.open(encoding="utf-8") as lines:
        return [
            call
            for line in lines
            for call in json.loads(line).get("service_calls", [])
            if call.get("resource_arn") == "arn:aws:states:::ecs:runTask.sync"
        ]


def test_recorded_ecs_runs_replay_through_the_poller() -> None:
    calls = recorded_ecs_sync_calls()
    assert {call["outcome"] for call in calls} == {"succeeded", "failed"}
    for call in calls:
        stopped = call["output"] if call["outcome"] == "succeeded" else call["cause"]
        service = FakeJob(call["submitted"]["output"], [{"Failures": [], "Tasks": [stopped]}])
        outcome = follow(service, "ecs", "runTask", call["parameters"])
        [(operation, request)] = service.requests
        started_task = call["submitted"]["output"]["Tasks"][0]
        assert operation == "DescribeTasks"
        assert request == {
            "Cluster": started_task["ClusterArn"],
            "Tasks": [started_task["TaskArn"]],
        }
        assert service.submitted == [call["submitted"]["output"]]
        if call["outcome"] == "succeeded":
            assert outcome == call["output"]
        else:
            assert isinstance(outcome, TaskCallFailed)
            assert outcome.error == call["error"] == errors.TASK_FAILED
            assert json.loads(outcome.cause) == call["cause"]


# -- the other outcomes, through a fake JobService -----------------------------------------------


class FakeJob:
    """A JobService answering each describe with the next of ``described`` (the last one
    again once they run out), or raising it when it is an exception."""

    def __init__(self, started: Any, described: list[Any]) -> None:
        self.started = started
        self.described = described
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.submitted: list[Any] = []
        self.stop_failure: TaskCallFailed | None = None

    def start(self) -> Any:
        return self.started

    def request(self, operation: str, parameters: dict[str, Any]) -> Any:
        self.requests.append((operation, parameters))
        if operation.startswith(("Describe", "Get", "BatchGet")):
            answer = self.described.pop(0) if len(self.described) > 1 else self.described[0]
            if isinstance(answer, Exception):
                raise answer
            return answer
        if self.stop_failure:
            raise self.stop_failure
        return {}


def follow(
    service: FakeJob,
    name: str,
    action: str,
    parameters: dict[str, Any],
    should_stop: Callable[[], bool] = lambda: False,
    sleeps: list[float] | None = None,
    max_seconds: float = 366 * 24 * 3600,
) -> Any:
    """The result of following ``service``'s job, or the failure it raised."""
    poller = poller_for(name, action)
    assert poller is not None
    try:
        return follow_job(
            service,
            poller,
            parameters,
            submitted=service.submitted.append,
            should_stop=should_stop,
            sleep=(sleeps if sleeps is not None else []).append,
            max_seconds=max_seconds,
        )
    except TaskCallFailed as failure:
        return failure


def test_ecs_failures_in_the_start_answer_fail_the_task_before_it_is_submitted() -> None:
    failures = [{"Arn": "arn:aws:ecs:us-east-1:1:container-instance/x", "Reason": "RESOURCE:CPU"}]
    service = FakeJob({"Failures": failures, "Tasks": []}, [{}])
    outcome = follow(service, "ecs", "runTask", {})
    assert isinstance(outcome, TaskCallFailed) and outcome.error == "AmazonECS.Unknown"
    assert json.loads(outcome.cause) == failures
    assert service.submitted == [] and service.requests == []


@pytest.mark.parametrize(
    ("containers", "succeeded"),
    [
        ([{"ExitCode": 0}, {"ExitCode": 0}], True),
        ([{"ExitCode": 0}, {"ExitCode": 1}], False),
        ([{"Name": "never ran"}], False),
        ([], False),
    ],
)
def test_an_ecs_task_succeeds_when_every_container_exited_zero(
    containers: list[dict[str, Any]], succeeded: bool
) -> None:
    task = {"TaskArn": "t", "ClusterArn": "c", "LastStatus": "STOPPED", "Containers": containers}
    start = {"Failures": [], "Tasks": [{"TaskArn": "t", "ClusterArn": "c"}]}
    outcome = follow(FakeJob(start, [{"Tasks": [task]}]), "ecs", "runTask", {})
    assert outcome == task if succeeded else isinstance(outcome, TaskCallFailed)


# (service, action, parameters, start answer, describe answers, the job in the last one,
#  whether it succeeded, the describe request)
JOB_CASES = [
    (
        "batch",
        "submitJob",
        {"JobName": "j"},
        {"JobId": "id1", "JobName": "j"},
        [{"Jobs": [{"JobId": "id1", "Status": s}]} for s in ("RUNNABLE", "RUNNING", "SUCCEEDED")],
        ("Jobs", 0),
        True,
        {"Jobs": ["id1"]},
    ),
    (
        "batch",
        "submitJob",
        {"JobName": "j"},
        {"JobId": "id1"},
        [{"Jobs": [{"JobId": "id1", "Status": "FAILED", "StatusReason": "Essential..."}]}],
        ("Jobs", 0),
        False,
        {"Jobs": ["id1"]},
    ),
    (
        "glue",
        "startJobRun",
        {"JobName": "etl"},
        {"JobName": "etl", "JobRunId": "jr_1"},
        [{"JobRun": {"Id": "jr_1", "JobRunState": s}} for s in ("RUNNING", "TIMEOUT")],
        ("JobRun",),
        False,
        {"JobName": "etl", "RunId": "jr_1"},
    ),
    (
        "glue",
        "startJobRun",
        {"JobName": "etl"},
        {"JobName": "etl", "JobRunId": "jr_1"},
        [{"JobRun": {"Id": "jr_1", "JobRunState": "STOPPED"}}],
        ("JobRun",),
        True,
        {"JobName": "etl", "RunId": "jr_1"},
    ),
    (
        "athena",
        "startQueryExecution",
        {"QueryString": "q"},
        {"QueryExecutionId": "q1"},
        [{"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "syntax"}}}],
        (),
        False,
        {"QueryExecutionId": "q1"},
    ),
    (
        "sagemaker",
        "createTrainingJob",
        {"TrainingJobName": "train"},
        {"TrainingJobArn": "arn"},
        [{"TrainingJobName": "train", "TrainingJobStatus": s} for s in ("InProgress", "Failed")],
        (),
        False,
        {"TrainingJobName": "train"},
    ),
    (
        "sagemaker",
        "createProcessingJob",
        {"ProcessingJobName": "p"},
        {"ProcessingJobArn": "arn"},
        [{"ProcessingJobStatus": "Completed"}],
        (),
        True,
        {"ProcessingJobName": "p"},
    ),
    (
        "elasticmapreduce",
        "addStep",
        {"ClusterId": "j-1", "Step": {"Name": "s"}},
        {"StepId": "s-1"},
        [{"Step": {"Id": "s-1", "Status": {"State": s}}} for s in ("RUNNING", "FAILED")],
        ("Step",),
        False,
        {"ClusterId": "j-1", "StepId": "s-1"},
    ),
    (
        "mediaconvert",
        "createJob",
        {"Role": "r"},
        {"Job": {"Id": "mc1", "Status": "SUBMITTED"}},
        [{"Job": {"Id": "mc1", "Status": s}} for s in ("PROGRESSING", "COMPLETE")],
        (),
        True,
        {"Id": "mc1"},
    ),
    (
        "databrew",
        "startJobRun",
        {"Name": "brew"},
        {"RunId": "r1"},
        [{"RunId": "r1", "State": s} for s in ("RUNNING", "FAILED")],
        (),
        False,
        {"Name": "brew", "RunId": "r1"},
    ),
    (
        "emr-serverless",
        "startJobRun",
        {"ApplicationId": "app"},
        {"ApplicationId": "app", "JobRunId": "run"},
        [{"JobRun": {"State": s}} for s in ("RUNNING", "CANCELLED")],
        (),
        False,
        {"ApplicationId": "app", "JobRunId": "run"},
    ),
    (
        "emr-containers",
        "startJobRun",
        {"VirtualClusterId": "vc"},
        {"Id": "run"},
        [{"JobRun": {"State": "COMPLETED"}}],
        (),
        True,
        {"VirtualClusterId": "vc", "Id": "run"},
    ),
    (
        "bedrock",
        "createModelCustomizationJob",
        {"JobName": "tune"},
        {"JobArn": "arn"},
        [{"Status": s} for s in ("InProgress", "Completed")],
        (),
        True,
        {"JobIdentifier": "tune"},
    ),
]


@pytest.mark.parametrize(
    ("name", "action", "parameters", "start", "described", "job", "succeeded", "describe"),
    JOB_CASES,
    ids=[f"{case[0]}:{case[1]}-{'ok' if case[6] else 'failed'}" for case in JOB_CASES],
)
def test_a_job_ends_as_its_last_description_says(
    name: str,
    action: str,
    parameters: dict[str, Any],
    start: dict[str, Any],
    described: list[Any],
    job: tuple[Any, ...],
    succeeded: bool,
    describe: dict[str, Any],
) -> None:
    polls = len(described)
    service = FakeJob(start, list(described))
    outcome = follow(service, name, action, parameters)
    last: Any = described[-1]
    for step in job:
        last = last[step]
    assert [request for _, request in service.requests] == [describe] * polls
    if succeeded:
        assert outcome == last
    else:
        assert isinstance(outcome, TaskCallFailed) and outcome.error == errors.TASK_FAILED
        assert json.loads(outcome.cause) == last


def test_codebuild_failure_cause_is_the_build_as_the_result_would_show_it() -> None:
    build = {"Id": "p:1", "BuildStatus": "FAULT"}
    service = FakeJob({"Build": {"Id": "p:1"}}, [{"Builds": [build]}])
    outcome = follow(service, "codebuild", "startBuild", {"ProjectName": "p"})
    assert isinstance(outcome, TaskCallFailed)
    assert json.loads(outcome.cause) == {"Build": build}


def test_emr_add_step_answers_the_step_id() -> None:
    service = FakeJob({"StepId": "s-1"}, [{"Step": {"Status": {"State": "COMPLETED"}}}])
    outcome = follow(service, "elasticmapreduce", "addStep", {"ClusterId": "j-1", "Step": {}})
    assert outcome == {"StepId": "s-1"}


@pytest.mark.parametrize(
    ("name", "action", "parameters", "start", "stop"),
    [
        (
            "batch",
            "submitJob",
            {},
            {"JobId": "id1"},
            ("TerminateJob", {"JobId": "id1", "Reason": jobs._STOP_REASON}),
        ),
        (
            "glue",
            "startJobRun",
            {"JobName": "etl"},
            {"JobRunId": "jr_1"},
            ("BatchStopJobRun", {"JobName": "etl", "JobRunIds": ["jr_1"]}),
        ),
        ("codebuild", "startBuild", {}, {"Build": {"Id": "p:1"}}, ("StopBuild", {"Id": "p:1"})),
        (
            "sagemaker",
            "createTransformJob",
            {"TransformJobName": "t"},
            {},
            ("StopTransformJob", {"TransformJobName": "t"}),
        ),
        (
            "elasticmapreduce",
            "addStep",
            {"ClusterId": "j-1"},
            {"StepId": "s-1"},
            ("CancelSteps", {"ClusterId": "j-1", "StepIds": ["s-1"]}),
        ),
        ("mediaconvert", "createJob", {}, {"Job": {"Id": "m"}}, ("CancelJob", {"Id": "m"})),
        (
            "databrew",
            "startJobRun",
            {"Name": "b"},
            {"RunId": "r"},
            ("StopJobRun", {"Name": "b", "RunId": "r"}),
        ),
        (
            "emr-serverless",
            "startJobRun",
            {"ApplicationId": "a"},
            {"JobRunId": "r"},
            ("CancelJobRun", {"ApplicationId": "a", "JobRunId": "r"}),
        ),
    ],
)
def test_a_job_is_stopped_as_aws_stops_it(
    name: str,
    action: str,
    parameters: dict[str, Any],
    start: dict[str, Any],
    stop: tuple[str, dict[str, Any]],
) -> None:
    service = FakeJob(start, [{}])
    outcome = follow(
        service, name, action, parameters, should_stop=lambda: len(service.requests) > 0
    )
    assert isinstance(outcome, JobStopped)
    assert service.requests[-1] == stop


def test_an_emr_cluster_is_left_running_when_the_task_stops_waiting() -> None:
    service = FakeJob({"ClusterId": "j-1"}, [{"Cluster": {"Status": {"State": "STARTING"}}}])
    outcome = follow(
        service, "elasticmapreduce", "createCluster", {}, should_stop=lambda: bool(service.requests)
    )
    assert isinstance(outcome, JobStopped)
    assert [operation for operation, _ in service.requests] == ["DescribeCluster"]


def test_a_stop_that_fails_still_ends_the_wait() -> None:
    service = FakeJob({"JobId": "id1"}, [{}])
    service.stop_failure = TaskCallFailed("Batch.AWSBatchException", "no")
    outcome = follow(service, "batch", "submitJob", {}, should_stop=lambda: True)
    assert isinstance(outcome, JobStopped)
    assert service.requests == [("TerminateJob", {"JobId": "id1", "Reason": jobs._STOP_REASON})]


def test_polls_back_off_to_a_minute_in_sleeps_of_a_second() -> None:
    running = {"Jobs": [{"Status": "RUNNING"}]}
    described = [running] * 9 + [{"Jobs": [{"Status": "SUCCEEDED"}]}]
    sleeps: list[float] = []
    times: list[float] = []
    service = FakeJob({"JobId": "id1"}, described)
    original = service.request

    def timed(operation: str, parameters: dict[str, Any]) -> Any:
        times.append(sum(sleeps))
        return original(operation, parameters)

    service.request = timed  # type: ignore[method-assign]
    follow(service, "batch", "submitJob", {}, sleeps=sleeps)
    gaps = [later - earlier for earlier, later in zip([0.0, *times], times, strict=False)]
    assert gaps == [5, 7.5, 11.25, 16.875, 25.3125, 37.96875, 56.953125, 60, 60, 60]
    assert max(sleeps) <= 1


def test_unanswered_polls_are_tried_again_then_fail_the_task() -> None:
    throttled = Unanswered("Batch.AWSBatchException", "Rate exceeded")
    done = {"Jobs": [{"Status": "SUCCEEDED"}]}
    retried = follow(
        FakeJob({"JobId": "i"}, [throttled, throttled, done]), "batch", "submitJob", {}
    )
    assert retried == {"Status": "SUCCEEDED"}
    failed = follow(FakeJob({"JobId": "i"}, [throttled]), "batch", "submitJob", {})
    assert failed is throttled


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (503, "ServiceUnavailable", True),
        (500, "InternalFailure", True),
        (429, "TooManyRequestsException", True),
        (400, "ThrottlingException", True),
        (400, "AccessDeniedException", False),
        (404, "ResourceNotFoundException", False),
    ],
)
def test_throttling_and_server_errors_are_polled_again(
    status: int, code: str, transient: bool
) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeJobs",
    )
    assert jobs._transient(error) is transient


def test_a_job_that_cannot_be_found_fails_the_task_after_a_few_polls() -> None:
    service = FakeJob({"JobId": "i"}, [{"Jobs": []}])
    outcome = follow(service, "batch", "submitJob", {})
    assert isinstance(outcome, TaskCallFailed) and outcome.error == errors.TASK_FAILED
    assert len(service.requests) == jobs._MAX_MISSES


def test_a_describe_refused_by_the_service_fails_the_task_at_once() -> None:
    denied = TaskCallFailed("Batch.AWSBatchException", "not authorized")
    service = FakeJob({"JobId": "i"}, [denied])
    assert follow(service, "batch", "submitJob", {}) is denied
    assert len(service.requests) == 1


def test_max_seconds_stops_the_job_and_times_the_task_out() -> None:
    sleeps: list[float] = []
    service = FakeJob(
        {"QueryExecutionId": "q"}, [{"QueryExecution": {"Status": {"State": "RUNNING"}}}]
    )
    outcome = follow(service, "athena", "startQueryExecution", {}, sleeps=sleeps, max_seconds=20)
    assert isinstance(outcome, TaskCallFailed) and outcome.error == errors.TIMEOUT
    assert sum(sleeps) == 20
    assert service.requests[-1] == ("StopQueryExecution", {"QueryExecutionId": "q"})


# -- the table -------------------------------------------------------------------------------------


def test_run_job_refuses_what_it_does_not_run(caller: AwsCaller) -> None:
    assert poller_for("states", "startExecution") is None  # the engine runs it
    with pytest.raises(UnsupportedCall):
        run_job(
            caller,
            AwsCall("eks", "runJob", ".sync", {}, REGION),
            submitted=lambda _: None,
            should_stop=lambda: False,
        )


def test_every_job_is_a_sync_integration_aws_offers() -> None:
    offered = {
        (service, action)
        for service, actions in OPTIMIZED_INTEGRATIONS.items()
        for action, patterns in actions.items()
        if RUN_JOB in patterns
    }
    covered = set(jobs._POLLERS)
    assert covered <= offered
    # Not run here: the engine's nested executions, EKS, and EMR Serverless applications.
    assert {service for service, _ in offered - covered} == {
        "states",
        "eks",
        "emr-serverless",
        "emr-containers",
    }


@pytest.mark.parametrize("key", sorted(jobs._POLLERS), ids=":".join)
def test_pollers_name_operations_and_members_botocore_knows(key: tuple[str, str]) -> None:
    poller = jobs._POLLERS[key]
    model = botocore.session.get_session().get_service_model(poller.client.botocore_name)
    operations = set(model.operation_names)
    start = poller.start or key[1][:1].upper() + key[1][1:]
    assert start in operations
    describe = model.operation_model(poller.describe)
    assert_members(poller.describe_request, describe.input_shape)
    for path in (poller.status, poller.job):
        assert resolves(describe.output_shape, path), path
    if poller.stop is not None:
        assert_members(poller.stop_request, model.operation_model(poller.stop).input_shape)
    start_model = model.operation_model(start)
    for template in (poller.describe_request, poller.stop_request):
        for ref in template.values():
            if not isinstance(ref, jobs.Ref):
                continue
            source, _, path = ref.path.partition(".")
            if source == "Request" and poller.shape_request is None:
                assert resolves(start_model.input_shape, path), ref
            if source == "Response" and poller.shape_start is None:
                assert resolves(start_model.output_shape, path), ref


def assert_members(template: jobs.Template, shape: Shape | None) -> None:
    assert shape is not None
    members = {name.lower() for name in shape.members}
    assert {name.lower() for name in template} <= members
    required = {name.lower() for name in shape.required_members}
    assert required <= {name.lower() for name in template}


def resolves(shape: Shape | None, path: str) -> bool:
    """Whether a dotted PascalCase path (list indexes as numbers) exists in ``shape``."""
    for step in path.split(".") if path else ():
        if shape is None:
            return False
        if step.isdigit():
            if shape.type_name != "list":
                return False
            shape = shape.member
            continue
        members = {name[:1].upper() + name[1:]: member for name, member in shape.members.items()}
        if step not in members:
            return False
        shape = members[step]
    return True
