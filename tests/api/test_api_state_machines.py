"""State machines and executions through boto3 against a real orchestrator process: concurrent
changes, validation as AWS validates, ARNs of other accounts, pagination tokens, roles, and the
machines of the definitions folder; and who may read /metrics."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from orchestrator.api.sigv4 import Credentials
from tests.api.inprocess import asgi_call, in_process_api
from tests.api.test_boto3 import free_port
from tests.processes import start_orchestrator

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/given-role"
PREFIX = "arn:aws:states:us-east-1:123456789012"
LOOP = f"{PREFIX}:stateMachine:CallCenterLoop"
ROLE_PASS = json.dumps(
    {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Parameters": {"r.$": "$$.Execution.RoleArn"}, "End": True}
        },
    }
)
WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})


def task_definition(function: str) -> str:
    resource = f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
    return json.dumps(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}
    )


@pytest.fixture(scope="module")
def sfn(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("machines")
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env.pop("SFN_ACCESS_KEY_ID", None)
    port = free_port()
    service = start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port)
    try:
        yield boto3.client(
            "stepfunctions",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            config=Config(retries={"max_attempts": 1}, max_pool_connections=32),
        )
        assert "Traceback" not in service.output()
    finally:
        service.stop()


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return error["Code"], error["Message"]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def wait_done(sfn: Any, arn: str) -> dict[str, Any]:
    for _ in range(300):
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


# -- concurrent changes ------------------------------------------------------------------------


def test_of_concurrent_creates_with_one_name_exactly_one_succeeds(sfn: Any) -> None:
    """Before: 20 of 20 callers were told they created the machine."""
    name = unique("Race")

    def create(i: int) -> str:
        definition = task_definition(f"RaceFunction{i}")
        try:
            sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)
            return definition
        except ClientError as error:
            return str(error.response["Error"]["Code"])

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(create, range(20)))
    winners = [o for o in outcomes if o.startswith("{")]
    assert len(winners) == 1
    assert sorted(set(outcomes) - set(winners)) == ["StateMachineAlreadyExists"]
    described = sfn.describe_state_machine(stateMachineArn=f"{PREFIX}:stateMachine:{name}")
    assert described["definition"] == winners[0]


def test_identical_concurrent_creates_are_all_idempotent(sfn: Any) -> None:
    name = unique("Same")
    definition = task_definition("RaceFunction0")

    def create(_: int) -> str:
        return str(
            sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)[
                "stateMachineArn"
            ]
        )

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        assert set(pool.map(create, range(10))) == {f"{PREFIX}:stateMachine:{name}"}


def test_interleaved_creates_updates_and_deletes_leave_a_consistent_machine(sfn: Any) -> None:
    name = unique("Storm")
    arn = f"{PREFIX}:stateMachine:{name}"
    allowed = {"StateMachineAlreadyExists", "StateMachineDoesNotExist"}
    random.seed(14)
    operations = [random.choice(["create", "update", "delete"]) for _ in range(60)]

    def run(step: tuple[int, str]) -> str:
        i, operation = step
        definition = task_definition(f"RaceFunction{i % 3}")
        try:
            if operation == "create":
                sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)
            elif operation == "update":
                sfn.update_state_machine(stateMachineArn=arn, definition=definition)
            else:
                sfn.delete_state_machine(stateMachineArn=arn)
            return "OK"
        except ClientError as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] < 500
            return str(error.response["Error"]["Code"])

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(run, enumerate(operations)))
    assert set(outcomes) <= {"OK"} | allowed
    listed = {m["name"] for m in sfn.list_state_machines(maxResults=1000)["stateMachines"]}
    try:
        described = sfn.describe_state_machine(stateMachineArn=arn)
    except sfn.exceptions.StateMachineDoesNotExist:
        assert name not in listed
        assert error_of(lambda: sfn.start_execution(stateMachineArn=arn))[0] == (
            "StateMachineDoesNotExist"
        )
    else:
        assert name in listed
        assert described["definition"].startswith('{"StartAt": "T"')


# -- validation as AWS validates ---------------------------------------------------------------


def test_enums_ranges_and_unsupported_options_are_refused_as_aws_refuses_them(sfn: Any) -> None:
    """Before: type NOT_A_TYPE was accepted (and escaped the STANDARD history cap)."""
    name = unique("Enum")
    create = sfn.create_state_machine
    assert error_of(
        lambda: create(name=name, definition=ROLE_PASS, roleArn=ROLE, type="NOT_A_TYPE")
    ) == (
        "ValidationException",
        "1 validation error detected: Value 'NOT_A_TYPE' at 'type' failed to satisfy"
        " constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]",
    )
    code, message = error_of(lambda: sfn.list_executions(stateMachineArn=LOOP, statusFilter="ok"))
    assert code == "ValidationException" and "Value 'ok' at 'statusFilter'" in message
    assert error_of(lambda: sfn.list_state_machines(maxResults=1001)) == (
        "ValidationException",
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy"
        " constraint: Member must have value less than or equal to 1000",
    )
    for options, refused in (
        ({"tracingConfiguration": {"enabled": True}}, "InvalidTracingConfiguration"),
        ({"loggingConfiguration": {"level": "ERROR"}}, "InvalidLoggingConfiguration"),
        ({"versionDescription": "v1 without publish"}, "ValidationException"),
        (
            {"encryptionConfiguration": {"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "k"}},
            "InvalidEncryptionConfiguration",
        ),
    ):
        with pytest.raises(ClientError) as caught:
            create(name=name, definition=ROLE_PASS, roleArn=ROLE, **options)
        assert caught.value.response["Error"]["Code"] == refused, options
    accepted = create(
        name=name,
        definition=ROLE_PASS,
        roleArn=ROLE,
        loggingConfiguration={"level": "OFF"},
        tracingConfiguration={"enabled": False},
        encryptionConfiguration={"type": "AWS_OWNED_KEY"},
    )
    assert error_of(
        lambda: sfn.update_state_machine(stateMachineArn=accepted["stateMachineArn"])
    ) == (
        "MissingRequiredParameter",
        "Either the definition, the role ARN, the LoggingConfiguration, or the"
        " TracingConfiguration must be specified",
    )


# -- ARNs of other regions and accounts --------------------------------------------------------


def test_arns_of_another_region_or_account_name_nothing_here(sfn: Any) -> None:
    """Before: arn:aws:states:eu-west-1:999999999999:stateMachine:CallCenterLoop described ours."""
    other_region = LOOP.replace("us-east-1", "eu-west-1")
    other_account = LOOP.replace("123456789012", "999999999999")
    for arn in (other_region, other_account):
        assert error_of(lambda a=arn: sfn.describe_state_machine(stateMachineArn=a)) == (
            "StateMachineDoesNotExist",
            f"State Machine Does Not Exist: '{arn}'",
        )
        assert error_of(lambda a=arn: sfn.start_execution(stateMachineArn=a))[0] == (
            "StateMachineDoesNotExist"
        )
        assert error_of(lambda a=arn: sfn.list_tags_for_resource(resourceArn=a))[0] == (
            "ResourceNotFound"
        )
        sfn.delete_state_machine(stateMachineArn=arn)  # AWS: 200 for what does not exist
    assert sfn.describe_state_machine(stateMachineArn=LOOP)["name"] == "CallCenterLoop"
    execution = sfn.start_execution(stateMachineArn=LOOP, input='{"inputCaseID": "arn"}')
    foreign = execution["executionArn"].replace("123456789012", "999999999999")
    assert error_of(lambda: sfn.describe_execution(executionArn=foreign)) == (
        "ExecutionDoesNotExist",
        f"Execution Does Not Exist: '{foreign}'",
    )
    assert error_of(lambda: sfn.describe_state_machine(stateMachineArn="not-an-arn")) == (
        "InvalidArn",
        "Invalid Arn: 'Invalid ARN prefix: not-an-arn'",
    )
    assert error_of(
        lambda: sfn.describe_state_machine(stateMachineArn=execution["executionArn"])
    ) == ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: execution'")
    sfn.stop_execution(executionArn=execution["executionArn"])


# -- pagination tokens -------------------------------------------------------------------------


def test_next_tokens_are_tied_to_their_query_and_cannot_be_forged(sfn: Any) -> None:
    """Before: a base64 '-1' and a ListStateMachines token were accepted by ListExecutions."""
    arn = sfn.create_state_machine(name=unique("Pages"), definition=WAIT, roleArn=ROLE)[
        "stateMachineArn"
    ]
    started = [sfn.start_execution(stateMachineArn=arn, name=f"e{i}") for i in range(5)]
    pages = list(
        sfn.get_paginator("list_executions").paginate(
            stateMachineArn=arn, PaginationConfig={"PageSize": 2}
        )
    )
    names = [e["name"] for page in pages for e in page["executions"]]
    assert sorted(names) == [f"e{i}" for i in range(5)] and len(pages) == 3
    token = sfn.list_executions(stateMachineArn=arn, maxResults=2)["nextToken"]
    machines_token = sfn.list_state_machines(maxResults=1)["nextToken"]
    invalid = ("InvalidToken", "Invalid Token: 'Invalid token'")
    for call in (
        lambda: sfn.list_executions(stateMachineArn=arn, nextToken=machines_token),
        lambda: sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", nextToken=token),
        lambda: sfn.list_executions(stateMachineArn=LOOP, nextToken=token),
        lambda: sfn.list_state_machines(nextToken=base64.urlsafe_b64encode(b"-1").decode()),
        lambda: sfn.list_state_machines(nextToken=token),
    ):
        assert error_of(call) == invalid
    history = sfn.get_execution_history(executionArn=started[0]["executionArn"], maxResults=1)
    assert (
        error_of(
            lambda: sfn.get_execution_history(
                executionArn=started[0]["executionArn"],
                reverseOrder=True,
                nextToken=history["nextToken"],
            )
        )
        == invalid
    )
    for execution in started:
        sfn.stop_execution(executionArn=execution["executionArn"])


# -- roles -------------------------------------------------------------------------------------


def test_the_given_role_is_the_one_executions_run_with_and_show(sfn: Any) -> None:
    """Before: $$.Execution.RoleArn, the history and DescribeStateMachineForExecution showed
    arn:aws:iam::123456789012:role/service-role/StepFunctions-<name>-role."""
    arn = sfn.create_state_machine(name=unique("Role"), definition=ROLE_PASS, roleArn=ROLE)[
        "stateMachineArn"
    ]
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert json.loads(wait_done(sfn, run)["output"]) == {"r": ROLE}
    started = sfn.get_execution_history(executionArn=run)["events"][0]
    assert started["executionStartedEventDetails"]["roleArn"] == ROLE
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == ROLE
    assert sfn.describe_state_machine_for_execution(executionArn=run)["roleArn"] == ROLE
    other = "arn:aws:iam::123456789012:role/next-role"
    sfn.update_state_machine(stateMachineArn=arn, roleArn=other)
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == other
    after = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert json.loads(wait_done(sfn, after)["output"]) == {"r": other}
    sfn.update_state_machine(stateMachineArn=arn, definition=ROLE_PASS.replace('"r.$"', '"s.$"'))
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == other  # kept
    assert sfn.describe_state_machine_for_execution(executionArn=run)["roleArn"] == ROLE


# -- the definitions folder --------------------------------------------------------------------


def test_machines_of_the_definitions_folder_cannot_be_changed_through_the_api(sfn: Any) -> None:
    """Before: DeleteStateMachine of CallCenterLoop succeeded, and a restart undid it."""
    expected = (
        "ConflictException",
        "State machine 'CallCenterLoop' is defined by the file CallCenterLoop.asl.json of the"
        " definitions folder and cannot be {} through the API (a restart would undo it): edit"
        " or remove that file and restart the orchestrator",
    )
    assert error_of(lambda: sfn.delete_state_machine(stateMachineArn=LOOP)) == (
        expected[0],
        expected[1].format("deleted"),
    )
    assert error_of(lambda: sfn.update_state_machine(stateMachineArn=LOOP, roleArn=ROLE)) == (
        expected[0],
        expected[1].format("updated"),
    )
    with pytest.raises(sfn.exceptions.ConflictException):  # boto3's modeled exception
        sfn.delete_state_machine(stateMachineArn=LOOP)
    assert sfn.describe_state_machine(stateMachineArn=LOOP)["name"] == "CallCenterLoop"
    assert (
        error_of(
            lambda: sfn.create_state_machine(name="CallCenterLoop", definition=WAIT, roleArn=ROLE)
        )[0]
        == "StateMachineAlreadyExists"
    )


# -- /metrics ----------------------------------------------------------------------------------


async def test_metrics_access_is_a_choice_when_access_control_is_on(
    amqp_url: str, tmp_path: Path
) -> None:
    credentials = Credentials("AKIDMETRICS", "secret")

    async def metrics_status(headers: list[tuple[str, str]], **options: Any) -> int:
        async with in_process_api(
            amqp_url, tmp_path / uuid.uuid4().hex, credentials=credentials, **options
        ) as parts:
            answer = await asgi_call(parts.app, b"", method="GET", path="/metrics", headers=headers)
            return answer.status

    bearer = [("Authorization", "Bearer scrape-me")]
    assert await metrics_status(bearer, metrics_token="scrape-me") == 200
    assert (
        await metrics_status([("Authorization", "Bearer wrong")], metrics_token="scrape-me") == 403
    )
    assert await metrics_status(bearer) == 403  # no token configured: bearer is not enough
    assert await metrics_status([]) == 403
    assert await metrics_status([], metrics_public=True) == 200


def test_history_pages_both_ways_hold_every_event_once(sfn: Any) -> None:
    states: dict[str, Any] = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(6)}
    states["S6"] = {"Type": "Pass", "End": True}
    arn = sfn.create_state_machine(
        name=unique("Pages"),
        definition=json.dumps({"StartAt": "S0", "States": states}),
        roleArn=ROLE,
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_done(sfn, run)
    whole = [e["id"] for e in sfn.get_execution_history(executionArn=run)["events"]]
    assert whole == list(range(1, 17))
    for reverse in (False, True):
        pages = list(
            sfn.get_paginator("get_execution_history").paginate(
                executionArn=run, reverseOrder=reverse, PaginationConfig={"PageSize": 3}
            )
        )
        ids = [e["id"] for page in pages for e in page["events"]]
        assert ids == (whole[::-1] if reverse else whole)
        assert len(pages) == 6 and all(len(p["events"]) == 3 for p in pages[:-1])
