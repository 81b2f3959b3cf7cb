"""Integration handlers without a broker: the registry, ``call_integration``, the example
table, and the command line's refusals."""

from __future__ import annotations

import asyncio
import math
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from messages import (
    IntegrationRequest,
    JsonValue,
    TaskCallFailed,
    TaskSubmitted,
    TaskSucceeded,
)
from workers import integrations
from workers.examples import dynamodb_table
from workers.integration_consumer import serve_integrations
from workers.integrations import (
    Integration,
    IntegrationContext,
    IntegrationError,
    Registry,
    call_integration,
    current_integration,
    integration,
)

REPO = Path(__file__).resolve().parents[2]


def integration_request(
    service: str, action: str, parameters: JsonValue, **fields: Any
) -> IntegrationRequest:
    """A request as the engine sends it for ``arn:aws:states:::SERVICE:ACTION[PATTERN]``;
    ``fields`` sets others by their wire names (``pattern``, ``attempt``)."""
    pattern = fields.get("pattern", "")
    document: dict[str, Any] = {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:Orders:run-1",
        "executionName": "run-1",
        "stateMachineName": "Orders",
        "stateName": "Store",
        "resource": f"arn:aws:states:::{service}:{action}{pattern}",
        "service": service,
        "action": action,
        "region": "us-east-1",
        "taskToken": uuid.uuid4().hex,
        "attempt": 0,
        "parameters": parameters,
        "credentials": {"RoleArn": "arn:aws:iam::123456789012:role/Writer"},
    }
    return IntegrationRequest.model_validate({**document, **fields})


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """The decorator's registry, empty for this test alone."""
    fresh = Registry()
    monkeypatch.setattr(integrations, "registry", fresh)
    return fresh


def echo(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
    return parameters


# -- the registry -----------------------------------------------------------------------------


def test_the_decorator_registers_exact_names_and_leaves_the_handler_unchanged(
    fresh_registry: Registry,
) -> None:
    decorated = integration("dynamodb:putItem")(echo)
    integration("aws-sdk:s3:getObject")(echo)
    assert decorated is echo
    table = integrations.registered_integrations()
    assert set(table) == {("dynamodb", "putItem"), ("aws-sdk:s3", "getObject")}
    assert integrations.get_integration("aws-sdk:s3", "getObject").handler is echo


def test_a_glob_serves_the_actions_it_matches_and_an_exact_name_wins_over_it(
    fresh_registry: Registry,
) -> None:
    def put(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
        return {}

    integration("dynamodb:*")(echo)
    integration("dynamodb:putItem")(put)
    table = integrations.registered_integrations()
    assert set(table) == {
        ("dynamodb", action) for action in ("getItem", "putItem", "updateItem", "deleteItem")
    }
    assert table[("dynamodb", "putItem")].handler is put
    assert table[("dynamodb", "getItem")].handler is echo


def test_an_aws_sdk_glob_expands_over_the_services_operations(fresh_registry: Registry) -> None:
    registered = fresh_registry.register("aws-sdk:s3:get*", echo)
    actions = {action for _, action in registered.serves}
    assert {"getObject", "getBucketAcl"} <= actions
    assert "putObject" not in actions
    assert all(action.startswith("get") for action in actions)


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("dynamodb:putitem", "did you mean putItem"),
        ("sqs:sendMessage.waitForTaskToken", "register 'sqs:sendMessage'"),
        ("states:startExecution.sync:2", "register 'states:startExecution'"),
        ("*:putItem", "only the action may be a glob"),
        ("lambda:invoke", "@workers.runtime.function"),
        ("nosuch:*", "not a service Step Functions integrates with"),
        ("putItem", "must be SERVICE:ACTION"),
    ],
)
def test_patterns_no_task_can_call_are_refused(
    fresh_registry: Registry, pattern: str, says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        integration(pattern)(echo)
    assert not integrations.registered_integrations()


def test_a_second_handler_for_one_pattern_is_refused(fresh_registry: Registry) -> None:
    integration("sqs:sendMessage")(echo)
    integration("sqs:sendMessage")(echo)  # the same handler again is no conflict
    with pytest.raises(ValueError, match="already registered"):
        integration("sqs:sendMessage")(lambda parameters, context: None)


def test_a_handler_that_cannot_take_parameters_and_context_is_refused(
    fresh_registry: Registry,
) -> None:
    with pytest.raises(TypeError, match="must accept"):
        integration("sns:publish")(lambda parameters: None)  # type: ignore[type-var]


def test_an_unknown_integration_lists_the_registered_ones(fresh_registry: Registry) -> None:
    integration("sns:publish")(echo)
    with pytest.raises(KeyError, match="registered: sns:publish"):
        integrations.get_integration("sqs", "sendMessage")


# -- call_integration -------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["", ".sync", ".sync:2"])
def test_request_response_and_sync_calls_succeed_with_the_handlers_output(pattern: str) -> None:
    request = integration_request("ecs", "runTask", {"Cluster": "c"}, pattern=pattern, attempt=2)
    assert call_integration(echo, request) == [
        TaskSucceeded(task_token=request.task_token, attempt=2, output={"Cluster": "c"})
    ]


def test_a_wait_for_task_token_call_is_submitted_and_the_handler_sees_the_token() -> None:
    seen: list[IntegrationContext] = []

    def send(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
        seen.append(context)
        return {"MessageId": "m-1"}

    request = integration_request(
        "sqs", "sendMessage", {"QueueUrl": "q"}, pattern=".waitForTaskToken"
    )
    assert call_integration(send, request) == [
        TaskSubmitted(task_token=request.task_token, attempt=0, output={"MessageId": "m-1"})
    ]
    assert seen[0].task_token == request.task_token
    assert seen[0].pattern == ".waitForTaskToken"


def test_the_context_carries_the_request_and_is_current_during_the_call() -> None:
    seen: list[IntegrationContext] = []

    def handler(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
        seen.append(current_integration())
        return None

    request = integration_request("aws-sdk:s3", "getObject", {"Bucket": "b"})
    call_integration(handler, request)
    assert seen == [
        IntegrationContext(
            service="aws-sdk:s3",
            action="getObject",
            pattern="",
            resource="arn:aws:states:::aws-sdk:s3:getObject",
            task_token=request.task_token,
            execution_arn=request.execution_arn,
            execution_name="run-1",
            state_machine_name="Orders",
            state_name="Store",
            region="us-east-1",
            credentials={"RoleArn": "arn:aws:iam::123456789012:role/Writer"},
            attempt=0,
        )
    ]
    with pytest.raises(LookupError, match="outside an integration handler"):
        current_integration()


def test_an_integration_error_fails_the_task_with_exactly_its_error_and_cause() -> None:
    def handler(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
        raise IntegrationError(
            "DynamoDB.ConditionalCheckFailedException", "The conditional request failed"
        )

    request = integration_request("dynamodb", "putItem", {}, attempt=1)
    assert call_integration(handler, request) == [
        TaskCallFailed(
            task_token=request.task_token,
            attempt=1,
            error="DynamoDB.ConditionalCheckFailedException",
            cause="The conditional request failed",
        )
    ]


def test_any_other_exception_fails_the_task_with_its_class_name_and_message() -> None:
    def handler(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
        raise KeyError("Item")

    request = integration_request("dynamodb", "getItem", {})
    assert call_integration(handler, request) == [
        TaskCallFailed(task_token=request.task_token, attempt=0, error="KeyError", cause="'Item'")
    ]


@pytest.mark.parametrize("returned", [{1, 2}, {"x": math.nan}, object()])
def test_an_output_that_is_not_json_is_a_marshal_error(returned: object) -> None:
    request = integration_request("sns", "publish", {})
    (result,) = call_integration(lambda parameters, context: returned, request)
    assert isinstance(result, TaskCallFailed)
    assert result.error == "Runtime.MarshalError"
    assert result.cause is not None and result.cause.startswith("Unable to marshal response")


def test_a_pydantic_model_is_output_as_its_json() -> None:
    class Sent(BaseModel):
        message_id: str

    request = integration_request("sns", "publish", {})
    (result,) = call_integration(lambda parameters, context: Sent(message_id="m"), request)
    assert result == TaskSucceeded(
        task_token=request.task_token, attempt=0, output={"message_id": "m"}
    )


# -- the example table ------------------------------------------------------------------------


def call_table(action: str, parameters: dict[str, Any]) -> TaskSucceeded | TaskCallFailed:
    handler = {"putItem": dynamodb_table.put_item, "getItem": dynamodb_table.get_item}[action]
    (result,) = call_integration(handler, integration_request("dynamodb", action, parameters))
    assert isinstance(result, TaskSucceeded | TaskCallFailed)
    return result


def table_output(action: str, parameters: dict[str, Any]) -> JsonValue:
    result = call_table(action, parameters)
    assert isinstance(result, TaskSucceeded), result
    return result.output


def table_failure(action: str, parameters: dict[str, Any]) -> tuple[str, str]:
    result = call_table(action, parameters)
    assert isinstance(result, TaskCallFailed), result
    return result.error, result.cause or ""


def test_the_example_table_stores_and_returns_items_in_awss_shapes() -> None:
    table = f"Cases-{uuid.uuid4().hex[:8]}"
    item = {"id": {"S": "001"}, "status": {"S": "open"}}
    assert table_output("putItem", {"TableName": table, "Item": item}) == {}
    key = {"id": {"S": "001"}}
    assert table_output("getItem", {"TableName": table, "Key": key}) == {"Item": item}
    assert table_output("getItem", {"TableName": table, "Key": {"id": {"S": "002"}}}) == {}
    assert integrations.get_integration("dynamodb", "putItem").handler is dynamodb_table.put_item


def test_the_example_table_fails_as_dynamodb_does() -> None:
    table = f"Cases-{uuid.uuid4().hex[:8]}"
    once = {
        "TableName": table,
        "Item": {"id": {"S": "001"}},
        "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": "id"},
    }
    assert table_output("putItem", once) == {}
    error, cause = table_failure("putItem", once)
    assert error == "DynamoDB.ConditionalCheckFailedException"
    assert cause.startswith("The conditional request failed (Service: AmazonDynamoDBv2;")
    error, cause = table_failure("getItem", {"TableName": table, "Key": {"name": {"S": "x"}}})
    assert error == "DynamoDB.AmazonDynamoDBException"
    assert "does not match the schema" in cause
    error, cause = table_failure("putItem", {"TableName": table, "Item": None})
    assert "Value null at 'item'" in cause


# -- serving, where it needs no broker -----------------------------------------------------


async def test_a_stop_before_connecting_returns_promptly() -> None:
    stop = asyncio.Event()
    stop.set()
    table = {("sns", "publish"): Integration("sns:publish", echo)}
    # Nothing listens on port 1: without the stop this would retry for ever.
    url = "amqp://guest:guest@127.0.0.1:1/"
    await asyncio.wait_for(serve_integrations(table, url=url, stop=stop), 5)


async def test_serving_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no integrations to serve"):
        await serve_integrations({}, stop=asyncio.Event())


# -- the command line, where it needs no broker ----------------------------------------------


@pytest.mark.parametrize(
    ("module", "says"),
    [("workers.examples", "registers no integrations"), ("no_such_module", "no_such_module")],
)
def test_a_module_without_integrations_exits_2(module: str, says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workers.integrations_main", module],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=20,
        cwd=REPO,
    )
    assert done.returncode == 2
    assert says in done.stderr
