"""The Run a Job (``.sync``) pattern: start a job, poll it until it ends, answer as AWS does.

Step Functions starts the job with the integration's normal call (its answer is the
TaskSubmitted output), then describes the job until it reaches a terminal state. A job that
succeeds gives the Task its description (ECS: the described task, Athena: GetQueryExecution's
answer, CodeBuild: ``{"Build": ...}``); one that fails fails the Task with States.TaskFailed
and that description's JSON text as the cause (the recorded ``ecs:runTask.sync`` runs show
both). When the Task stops waiting (it timed out, or its execution ended), Step Functions
stops the job on a best-effort basis (ECS StopTask, Batch TerminateJob, Glue
BatchStopJobRun, ...); EMR clusters are left running, as AWS documents.

The job runs in steps of one call each: :func:`start_job`, :func:`poll_job` (once per
poll) and :func:`stop_job`. The service runs them between messages (its polls wait in
RabbitMQ, so no thread or delivery is held while a job runs); :func:`run_job` runs them in a
loop in one thread, for the in-process runner.

Each job kind is a row of :data:`_POLLERS` (describe call, where the job's id comes from,
status path, terminal states, stop call), not a class per service. Describe results are
shaped as the optimized integrations shape results (SDK v1: PascalCase, keys in order,
timestamps in epoch milliseconds), without HTTP metadata.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import botocore.exceptions
from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.asl import errors
from orchestrator.asl.intrinsics.java import to_json
from orchestrator.integrations.aws import failures, requests, responses
from orchestrator.integrations.aws.call import AwsCall, AwsCaller
from orchestrator.integrations.aws.failures import TaskCallFailed, UnsupportedCall

log = logging.getLogger(__name__)

# Polls start at poll_seconds and grow by half each time, up to a minute between polls.
_BACKOFF = 1.5
_MAX_POLL_SECONDS = 60.0
# should_stop is looked at least this often while waiting between polls.
_STOP_CHECK_SECONDS = 1.0
# Consecutive polls that got no usable answer (throttled, 5xx, no connection, job not yet
# visible) before the Task fails with the last of them.
_MAX_MISSES = 10
_STOP_REASON = "Stopped by AWS Step Functions: the task no longer waits for the job"
_HTTP_METADATA = ("SdkHttpMetadata", "SdkResponseMetadata")


class Unanswered(TaskCallFailed):
    """A call that got no usable answer (throttled, a server error, no connection): the
    poll is tried again later."""


class JobStopped(TaskCallFailed):
    """The Task stopped waiting (``should_stop``) and the job was asked to stop.

    AWS records nothing for the job then (the Task's TaskTimedOut, or the execution's end,
    is the engine's record); the error names the timeout for a caller that reports it.
    """

    def __init__(self, what: str) -> None:
        super().__init__(errors.TIMEOUT, f"The task stopped waiting for {what}")


@dataclass(frozen=True)
class Ref:
    """A value of a describe or stop request: ``path`` into ``Request`` (the Task's
    parameters) or ``Response`` (the start call's answer), dotted, list indexes as numbers
    (``Response.Tasks.0.TaskArn``); ``listed`` sends it as a one-element list."""

    path: str
    listed: bool = False


Template = Mapping[str, "Ref | str"]


@dataclass(frozen=True)
class _Client:
    """A service's botocore name and the SDK v1 names its results and errors go by."""

    botocore_name: str
    prefix: str  # ECS
    service: str  # AmazonECS
    generic: str  # AmazonECSException


@dataclass(frozen=True)
class JobPoller:
    """How Step Functions runs one kind of job.

    ``start`` is the start operation when this module makes the start call itself (None:
    the caller's normal call does), ``shape_request`` / ``shape_start`` adapt the Task's
    parameters and the start's answer where the integration wraps the API (EMR's
    ``ClusterId``, Glue's ``JobName``). ``describe`` with ``describe_request`` reads the job;
    ``status`` (a dotted path in its answer) is one of ``done`` once it ended, and the job
    succeeded when the status is in ``succeeded`` (or ``check(job)`` says so, for ECS).
    ``job`` is where the job sits in the describe answer (``""``: all of it), ``wrap`` the
    key the result puts it under; ``output_start`` answers with the start's answer instead.
    ``stop`` with ``stop_request`` asks the job to stop. ``start_failures``: a start answer
    with ``Failures`` fails the Task (ECS).
    """

    client: _Client
    describe: str
    describe_request: Template
    status: str
    done: frozenset[str]
    succeeded: frozenset[str] = frozenset()
    check: Callable[[Any], bool] | None = None
    job: str = ""
    wrap: str | None = None
    output_start: bool = False
    stop: str | None = None
    stop_request: Template = field(default_factory=dict)
    start: str | None = None
    shape_request: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    shape_start: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
    start_failures: bool = False


class JobService(Protocol):
    """The calls of one job: its start and the describe and stop operations."""

    def start(self) -> Any:
        """The start call's answer, as the Task's TaskSubmitted shows it."""

    def request(self, operation: str, parameters: dict[str, Any]) -> Any:
        """``operation``'s answer shaped as AWS shapes results, without HTTP metadata;
        raises TaskCallFailed (Unanswered when it may be tried again)."""


def poller_for(service: str, action: str) -> JobPoller | None:
    """How ``arn:aws:states:::SERVICE:ACTION.sync`` runs, or None when this module does not
    run it (``states:startExecution.sync`` is the engine's own; EKS is not covered)."""
    return _POLLERS.get((service, action))


@dataclass(frozen=True)
class JobDone:
    """The job ended well: ``output`` is the Task's result."""

    output: Any


@dataclass(frozen=True)
class JobPending:
    """The job has not ended; ``misses`` counts the polls in a row that got no usable
    answer (pass it to the next :func:`poll_job`)."""

    misses: int = 0


JobProgress = JobDone | JobPending


def poll_delays(poll_seconds: float) -> list[float]:
    """Every pause between polls, in order: ``poll_seconds``, half as long again each time,
    up to a minute (the last repeats from then on)."""
    delays = [poll_seconds]
    while (following := next_poll_delay(delays[-1], poll_seconds)) != delays[-1]:
        delays.append(following)
    return delays


def next_poll_delay(delay: float, poll_seconds: float) -> float:
    """The pause after a poll that came ``delay`` seconds after the one before."""
    return min(delay * _BACKOFF, max(_MAX_POLL_SECONDS, poll_seconds))


def runs_job(call: AwsCall) -> bool:
    """Whether this module runs ``call``'s job (a ``.sync`` pattern it has a poller for)."""
    return (
        call.pattern in (".sync", ".sync:2") and poller_for(call.service, call.action) is not None
    )


# -- the steps of a job, one call each (the service's durable polling) ---------------------------


def start_job(caller: AwsCaller, call: AwsCall) -> Any:
    """Start ``call``'s job; the start call's answer (TaskSubmitted's output), or
    TaskCallFailed (UnsupportedCall when this module does not run it)."""
    poller = _poller(call)
    return _start(_BotocoreJob(caller, call, poller), poller)


def poll_job(caller: AwsCaller, call: AwsCall, started: Any, misses: int = 0) -> JobProgress:
    """Describe the job ``call`` started (``started``: its start answer) once.

    JobDone with the Task's result once it ended well; JobPending while it runs (or while
    the describe gets no usable answer, fewer than the limit of times in a row); raises
    TaskCallFailed when it ended badly or the service refused the describe.
    """
    poller = _poller(call)
    return _poll(_BotocoreJob(caller, call, poller), poller, call.parameters, started, misses)


def stop_job(caller: AwsCaller, call: AwsCall, started: Any) -> None:
    """Ask the job ``call`` started to stop, as AWS does when the Task stops waiting for it;
    best effort (a refusal is logged, not raised; EMR clusters are left running)."""
    poller = _poller(call)
    _stop(_BotocoreJob(caller, call, poller), poller, _sources(call.parameters, started))


# -- the in-process runner: the steps in a loop, in one thread -----------------------------------


def run_job(
    caller: AwsCaller,
    call: AwsCall,
    *,
    submitted: Callable[[Any], None],
    should_stop: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 5.0,
    max_seconds: float = 366 * 24 * 3600,
) -> Any:
    """Run ``call`` (a ``.sync`` Task) to its end; the Task's result, or TaskCallFailed.

    The start call's answer goes to ``submitted`` (the TaskSubmitted output) before the
    first poll. Polls follow ``poll_seconds``, half as long again each time up to a minute;
    ``should_stop`` is looked at every second or so. When it turns true the job is asked to
    stop and JobStopped is raised; past ``max_seconds`` of waiting the job is stopped and the
    Task fails with States.Timeout. Synchronous: run it in a thread.
    """
    poller = _poller(call)
    return follow_job(
        _BotocoreJob(caller, call, poller),
        poller,
        call.parameters,
        submitted=submitted,
        should_stop=should_stop,
        sleep=sleep,
        poll_seconds=poll_seconds,
        max_seconds=max_seconds,
    )


def follow_job(
    service: JobService,
    poller: JobPoller,
    parameters: Any,
    *,
    submitted: Callable[[Any], None],
    should_stop: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 5.0,
    max_seconds: float = 366 * 24 * 3600,
) -> Any:
    """:func:`run_job` over any :class:`JobService` (the seam the tests fake)."""
    started = _start(service, poller)
    submitted(started)
    sources = _sources(parameters, started)
    what = f"the job {to_json(_fill(poller.describe_request, sources))}"
    waited = 0.0
    delay = poll_seconds
    misses = 0
    while True:
        if waited >= max_seconds:
            _stop(service, poller, sources)
            raise TaskCallFailed(errors.TIMEOUT, f"{what} did not end in {max_seconds:g} seconds")
        pause = min(delay, max_seconds - waited)
        if _pause(pause, sleep, should_stop):
            _stop(service, poller, sources)
            raise JobStopped(what)
        waited += pause
        delay = next_poll_delay(delay, poll_seconds)
        progress = _poll(service, poller, parameters, started, misses)
        if isinstance(progress, JobDone):
            return progress.output
        misses = progress.misses


def _poller(call: AwsCall) -> JobPoller:
    poller = poller_for(call.service, call.action)
    if poller is None:
        raise UnsupportedCall(
            f"The {call.pattern} integration pattern of {call.service}:{call.action} is not"
            " supported"
        )
    return poller


def _start(service: JobService, poller: JobPoller) -> Any:
    started = service.start()
    if poller.start_failures and isinstance(started, dict) and started.get("Failures"):
        # "If a non-empty Failures field is encountered, the task is failed with an
        # AmazonECS.Unknown error" (AWS's ECS integration page).
        raise TaskCallFailed("AmazonECS.Unknown", to_json(started["Failures"]))
    return started


def _poll(
    service: JobService, poller: JobPoller, parameters: Any, started: Any, misses: int
) -> JobProgress:
    """One describe: the job's progress, or TaskCallFailed (see :func:`poll_job`)."""
    describe_request = _fill(poller.describe_request, _sources(parameters, started))
    try:
        described = service.request(poller.describe, describe_request)
    except Unanswered:
        if misses + 1 >= _MAX_MISSES:
            raise
        return JobPending(misses + 1)
    status = _at(described, poller.status)
    if status in poller.done:
        return JobDone(_outcome(poller, started, described))
    if status is None:  # the job is not visible yet, or no longer
        if misses + 1 >= _MAX_MISSES:
            raise TaskCallFailed(errors.TASK_FAILED, to_json(described))
        return JobPending(misses + 1)
    return JobPending(0)


def _sources(parameters: Any, started: Any) -> dict[str, Any]:
    """What a request template's references read: the Task's parameters, the start answer."""
    return {"Request": parameters if isinstance(parameters, dict) else {}, "Response": started}


def _outcome(poller: JobPoller, started: Any, described: Any) -> Any:
    """The Task's result for a job that ended, or its States.TaskFailed."""
    job = _at(described, poller.job)
    result = {poller.wrap: job} if poller.wrap else job
    ok = poller.check(job) if poller.check else _at(described, poller.status) in poller.succeeded
    if not ok:
        raise TaskCallFailed(errors.TASK_FAILED, to_json(result))
    if poller.output_start:
        return {k: v for k, v in started.items() if k not in _HTTP_METADATA}
    return result


def _pause(seconds: float, sleep: Callable[[float], None], should_stop: Callable[[], bool]) -> bool:
    """Wait ``seconds`` in short sleeps; True as soon as ``should_stop`` says so."""
    remaining = seconds
    while remaining > 0:
        if should_stop():
            return True
        step = min(remaining, _STOP_CHECK_SECONDS)
        sleep(step)
        remaining -= step
    return should_stop()


def _stop(service: JobService, poller: JobPoller, sources: dict[str, Any]) -> None:
    """Ask the job to stop; best effort, as AWS's (a failure is logged, not raised)."""
    if poller.stop is None:
        return
    try:
        service.request(poller.stop, _fill(poller.stop_request, sources))
    except TaskCallFailed as failure:
        log.warning("could not stop a job with %s: %s", poller.stop, failure)


def _fill(template: Template, sources: dict[str, Any]) -> dict[str, Any]:
    filled: dict[str, Any] = {}
    for name, value in template.items():
        if isinstance(value, Ref):
            found = _at(sources, value.path)
            filled[name] = [found] if value.listed else found
        else:
            filled[name] = value
    return filled


def _at(value: Any, path: str) -> Any:
    """The value at a dotted ``path`` (list indexes as numbers), None when there is none."""
    for step in path.split(".") if path else ():
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


# -- the calls, made with the caller's clients ---------------------------------------------------


class _BotocoreJob:
    """A job's calls through ``caller``'s clients (its endpoint, region and Task role)."""

    def __init__(self, caller: AwsCaller, call: AwsCall, poller: JobPoller) -> None:
        self._caller = caller
        self._call = call
        self._poller = poller

    def start(self) -> Any:
        poller = self._poller
        if poller.start is None:
            return self._caller.call(dataclasses.replace(self._call, pattern=""))
        parameters = self._call.parameters
        sent = parameters
        if poller.shape_request and isinstance(parameters, dict):
            sent = poller.shape_request(parameters)
        answer = self._invoke(poller.start, sent, http_metadata=True)
        if poller.shape_start:
            request = parameters if isinstance(parameters, dict) else {}
            answer = dict(sorted(poller.shape_start(request, answer).items()))
        return answer

    def request(self, operation: str, parameters: dict[str, Any]) -> Any:
        return self._invoke(operation, parameters, http_metadata=False)

    def _invoke(self, operation: str, parameters: Any, *, http_metadata: bool) -> Any:
        names = self._poller.client
        # AwsCaller keeps one client per service, region and role; jobs share them.
        client = self._caller._client(names.botocore_name, self._call, names.prefix)
        model = client.meta.service_model.operation_model(operation)
        try:
            sent = requests.request_parameters(parameters, model.input_shape, optimized=True)
            response = getattr(client, xform_name(operation))(**sent)
        except ClientError as error:
            failure = failures.optimized_failure(error, names.prefix, names.service, names.generic)
            if _transient(error):
                raise Unanswered(failure.error, failure.cause) from None
            raise failure from None
        except (BotoCoreError, requests.InvalidParameters) as error:
            failure = failures.client_failure(error, names.prefix)
            unanswered = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
            if isinstance(error, unanswered):
                raise Unanswered(failure.error, failure.cause) from None
            raise failure from None
        return responses.optimized_result(response, model.output_shape, http_metadata)


def _transient(error: ClientError) -> bool:
    """Throttling and server errors: worth another poll later."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = str(error.response.get("Error", {}).get("Code", ""))
    return status >= 500 or status == 429 or "Throttl" in code or code == "TooManyRequestsException"


# -- how each job kind runs ---------------------------------------------------------------------


def _containers_exited_zero(task: Any) -> bool:
    """An ECS task succeeded when every container exited 0 (the recorded failure stopped
    with TaskFailedToStart and a container without an exit code)."""
    containers = task.get("Containers") if isinstance(task, dict) else None
    if not isinstance(containers, list) or not containers:
        return False
    return all(isinstance(c, dict) and c.get("ExitCode") == 0 for c in containers)


def _with_job_name(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    # "The JobName field is extracted from the request and inserted into the response".
    return {**answer, "JobName": request.get("JobName")}


def _renamed(old: str, new: str) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    def rename(_: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        shaped = {k: v for k, v in answer.items() if k != old}
        shaped[new] = answer.get(old)
        return shaped

    return rename


def _first_step(_: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    steps = answer.get("StepIds") or [None]
    return {**{k: v for k, v in answer.items() if k != "StepIds"}, "StepId": steps[0]}


def _add_step_request(parameters: dict[str, Any]) -> dict[str, Any]:
    # addStep takes ClusterId and one Step; AddJobFlowSteps a JobFlowId and Steps.
    sent = {k: v for k, v in parameters.items() if k not in ("ClusterId", "Step")}
    return {**sent, "JobFlowId": parameters.get("ClusterId"), "Steps": [parameters.get("Step")]}


def _terminate_request(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"JobFlowIds": [parameters.get("ClusterId")]}


_ECS = _Client("ecs", "ECS", "AmazonECS", "AmazonECSException")
_BATCH = _Client("batch", "Batch", "AWSBatch", "AWSBatchException")
_GLUE = _Client("glue", "Glue", "AWSGlue", "AWSGlueException")
_ATHENA = _Client("athena", "Athena", "AmazonAthena", "AmazonAthenaException")
_CODEBUILD = _Client("codebuild", "CodeBuild", "AWSCodeBuild", "AWSCodeBuildException")
_SAGEMAKER = _Client("sagemaker", "SageMaker", "AmazonSageMaker", "AmazonSageMakerException")
_EMR = _Client("emr", "EMR", "AmazonElasticMapReduce", "AmazonElasticMapReduceException")
_MEDIACONVERT = _Client(
    "mediaconvert", "MediaConvert", "AWSMediaConvert", "AWSMediaConvertException"
)
_DATABREW = _Client("databrew", "DataBrew", "AWSGlueDataBrew", "AWSGlueDataBrewException")
_EMR_SERVERLESS = _Client(
    "emr-serverless", "EMRServerless", "AWSEMRServerless", "AWSEMRServerlessException"
)
_EMR_CONTAINERS = _Client(
    "emr-containers", "EMRContainers", "AmazonEMRContainers", "AmazonEMRContainersException"
)
_BEDROCK = _Client("bedrock", "Bedrock", "AmazonBedrock", "AmazonBedrockException")

_SAGEMAKER_ENDS = frozenset({"Completed", "Failed", "Stopped"})
_CODEBUILD_ENDS = frozenset({"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"})


def _sagemaker(kind: str) -> JobPoller:
    """SageMaker's jobs all read alike: Create<Kind>, Describe<Kind>, <Kind>Status, Stop<Kind>."""
    name = {f"{kind}Name": Ref(f"Request.{kind}Name")}
    return JobPoller(
        _SAGEMAKER,
        f"Describe{kind}",
        name,
        f"{kind}Status",
        _SAGEMAKER_ENDS,
        frozenset({"Completed"}),
        stop=f"Stop{kind}",
        stop_request=name,
        start=f"Create{kind}",
    )


def _build_batch(start: str) -> JobPoller:
    batch_id = Ref("Response.BuildBatch.Id")
    return JobPoller(
        _CODEBUILD,
        "BatchGetBuildBatches",
        {"Ids": Ref("Response.BuildBatch.Id", listed=True)},
        "BuildBatches.0.BuildBatchStatus",
        _CODEBUILD_ENDS,
        frozenset({"SUCCEEDED"}),
        job="BuildBatches.0",
        wrap="BuildBatch",
        stop="StopBuildBatch",
        stop_request={"Id": batch_id},
        start=start,
    )


_ECS_TASK = {"Cluster": Ref("Response.Tasks.0.ClusterArn")}
_GLUE_RUN = {"JobName": Ref("Request.JobName")}
_EMR_STEP = {"ClusterId": Ref("Request.ClusterId")}
_DATABREW_RUN = {"Name": Ref("Request.Name"), "RunId": Ref("Response.RunId")}
_SERVERLESS_RUN = {
    "ApplicationId": Ref("Request.ApplicationId"),
    "JobRunId": Ref("Response.JobRunId"),
}
_CONTAINERS_RUN = {"VirtualClusterId": Ref("Request.VirtualClusterId"), "Id": Ref("Response.Id")}
_BEDROCK_JOB = {"JobIdentifier": Ref("Request.JobName")}

_POLLERS: Mapping[tuple[str, str], JobPoller] = {
    ("ecs", "runTask"): JobPoller(
        _ECS,
        "DescribeTasks",
        {**_ECS_TASK, "Tasks": Ref("Response.Tasks.0.TaskArn", listed=True)},
        "Tasks.0.LastStatus",
        frozenset({"STOPPED"}),
        check=_containers_exited_zero,
        job="Tasks.0",
        stop="StopTask",
        stop_request={**_ECS_TASK, "Task": Ref("Response.Tasks.0.TaskArn"), "Reason": _STOP_REASON},
        start_failures=True,
    ),
    ("batch", "submitJob"): JobPoller(
        _BATCH,
        "DescribeJobs",
        {"Jobs": Ref("Response.JobId", listed=True)},
        "Jobs.0.Status",
        frozenset({"SUCCEEDED", "FAILED"}),
        frozenset({"SUCCEEDED"}),
        job="Jobs.0",
        stop="TerminateJob",
        stop_request={"JobId": Ref("Response.JobId"), "Reason": _STOP_REASON},
        start="SubmitJob",
    ),
    ("glue", "startJobRun"): JobPoller(
        _GLUE,
        "GetJobRun",
        {**_GLUE_RUN, "RunId": Ref("Response.JobRunId")},
        "JobRun.JobRunState",
        frozenset({"SUCCEEDED", "STOPPED", "FAILED", "TIMEOUT", "ERROR", "EXPIRED"}),
        # LocalStack, checked against AWS, counts a stopped run as ended normally.
        frozenset({"SUCCEEDED", "STOPPED"}),
        job="JobRun",
        stop="BatchStopJobRun",
        stop_request={**_GLUE_RUN, "JobRunIds": Ref("Response.JobRunId", listed=True)},
        start="StartJobRun",
        shape_start=_with_job_name,
    ),
    ("athena", "startQueryExecution"): JobPoller(
        _ATHENA,
        "GetQueryExecution",
        {"QueryExecutionId": Ref("Response.QueryExecutionId")},
        "QueryExecution.Status.State",
        frozenset({"SUCCEEDED", "FAILED", "CANCELLED"}),
        frozenset({"SUCCEEDED"}),
        stop="StopQueryExecution",
        stop_request={"QueryExecutionId": Ref("Response.QueryExecutionId")},
        start="StartQueryExecution",
    ),
    ("codebuild", "startBuild"): JobPoller(
        _CODEBUILD,
        "BatchGetBuilds",
        {"Ids": Ref("Response.Build.Id", listed=True)},
        "Builds.0.BuildStatus",
        _CODEBUILD_ENDS,
        frozenset({"SUCCEEDED"}),
        job="Builds.0",
        wrap="Build",
        stop="StopBuild",
        stop_request={"Id": Ref("Response.Build.Id")},
        start="StartBuild",
    ),
    ("codebuild", "startBuildBatch"): _build_batch("StartBuildBatch"),
    ("codebuild", "retryBuildBatch"): _build_batch("RetryBuildBatch"),
    ("sagemaker", "createTrainingJob"): _sagemaker("TrainingJob"),
    ("sagemaker", "createTransformJob"): _sagemaker("TransformJob"),
    ("sagemaker", "createProcessingJob"): _sagemaker("ProcessingJob"),
    ("sagemaker", "createHyperParameterTuningJob"): _sagemaker("HyperParameterTuningJob"),
    ("sagemaker", "createLabelingJob"): _sagemaker("LabelingJob"),
    # EMR's integration wraps the API (ClusterId for JobFlowId, one Step); AWS does not
    # terminate a cluster when the Task stops waiting for it.
    ("elasticmapreduce", "createCluster"): JobPoller(
        _EMR,
        "DescribeCluster",
        {"ClusterId": Ref("Response.ClusterId")},
        "Cluster.Status.State",
        frozenset({"WAITING", "TERMINATED", "TERMINATED_WITH_ERRORS"}),
        frozenset({"WAITING"}),
        job="Cluster",
        output_start=True,
        start="RunJobFlow",
        shape_start=_renamed("JobFlowId", "ClusterId"),
    ),
    ("elasticmapreduce", "terminateCluster"): JobPoller(
        _EMR,
        "DescribeCluster",
        _EMR_STEP,
        "Cluster.Status.State",
        frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"}),
        frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"}),
        job="Cluster",
        output_start=True,
        start="TerminateJobFlows",
        shape_request=_terminate_request,
    ),
    ("elasticmapreduce", "addStep"): JobPoller(
        _EMR,
        "DescribeStep",
        {**_EMR_STEP, "StepId": Ref("Response.StepId")},
        "Step.Status.State",
        frozenset({"COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"}),
        frozenset({"COMPLETED"}),
        job="Step",
        output_start=True,
        stop="CancelSteps",
        stop_request={**_EMR_STEP, "StepIds": Ref("Response.StepId", listed=True)},
        start="AddJobFlowSteps",
        shape_request=_add_step_request,
        shape_start=_first_step,
    ),
    ("mediaconvert", "createJob"): JobPoller(
        _MEDIACONVERT,
        "GetJob",
        {"Id": Ref("Response.Job.Id")},
        "Job.Status",
        frozenset({"COMPLETE", "ERROR", "CANCELED"}),
        frozenset({"COMPLETE"}),
        stop="CancelJob",
        stop_request={"Id": Ref("Response.Job.Id")},
        start="CreateJob",
    ),
    ("databrew", "startJobRun"): JobPoller(
        _DATABREW,
        "DescribeJobRun",
        _DATABREW_RUN,
        "State",
        frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"}),
        frozenset({"SUCCEEDED"}),
        stop="StopJobRun",
        stop_request=_DATABREW_RUN,
        start="StartJobRun",
    ),
    ("emr-serverless", "startJobRun"): JobPoller(
        _EMR_SERVERLESS,
        "GetJobRun",
        _SERVERLESS_RUN,
        "JobRun.State",
        frozenset({"SUCCESS", "FAILED", "CANCELLED"}),
        frozenset({"SUCCESS"}),
        stop="CancelJobRun",
        stop_request=_SERVERLESS_RUN,
        start="StartJobRun",
    ),
    ("emr-containers", "startJobRun"): JobPoller(
        _EMR_CONTAINERS,
        "DescribeJobRun",
        _CONTAINERS_RUN,
        "JobRun.State",
        frozenset({"COMPLETED", "FAILED", "CANCELLED"}),
        frozenset({"COMPLETED"}),
        stop="CancelJobRun",
        stop_request=_CONTAINERS_RUN,
        start="StartJobRun",
    ),
    ("bedrock", "createModelCustomizationJob"): JobPoller(
        _BEDROCK,
        "GetModelCustomizationJob",
        _BEDROCK_JOB,
        "Status",
        frozenset({"Completed", "Failed", "Stopped"}),
        frozenset({"Completed"}),
        stop="StopModelCustomizationJob",
        stop_request=_BEDROCK_JOB,
        start="CreateModelCustomizationJob",
    ),
}
