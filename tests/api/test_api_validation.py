"""Request validation against botocore's model, answered in AWS's words (no server needed)."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from orchestrator.api.errors import ApiError
from orchestrator.api.validation import validate

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
ROLE = "arn:aws:iam::123456789012:role/r"
CREATE = {"name": "M", "definition": "{}", "roleArn": ROLE}


def refusal(action: str, params: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ApiError) as caught:
        validate(params, MODEL.operation_model(action).input_shape)
    return caught.value.type, caught.value.message


def test_valid_requests_pass_and_unknown_or_null_members_are_ignored() -> None:
    shape = MODEL.operation_model("CreateStateMachine").input_shape
    validate({**CREATE, "type": "EXPRESS", "tags": [{"key": "k", "value": ""}]}, shape)
    validate({**CREATE, "somethingNew": [1, 2], "type": None}, shape)


def test_an_enum_value_outside_the_set_is_awss_validation_exception() -> None:
    # Recorded on AWS (LocalStack snapshot test_state_machine_status_filter), in model order.
    assert refusal("ListExecutions", {"stateMachineArn": "arn:x", "statusFilter": "succeeded"}) == (
        "ValidationException",
        "1 validation error detected: Value 'succeeded' at 'statusFilter' failed to satisfy"
        " constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED,"
        " TIMED_OUT, ABORTED, PENDING_REDRIVE]",
    )
    assert refusal("CreateStateMachine", {**CREATE, "type": "NOT_A_TYPE"})[1].endswith(
        "Value 'NOT_A_TYPE' at 'type' failed to satisfy constraint: Member must satisfy enum"
        " value set: [STANDARD, EXPRESS]"
    )
    level = {**CREATE, "loggingConfiguration": {"level": "LOUD"}}
    assert "at 'loggingConfiguration.level'" in refusal("CreateStateMachine", level)[1]


def test_ranges_and_lengths_as_aws_words_them() -> None:
    # Both recorded on AWS (test_list_sms_pagination).
    assert refusal("ListStateMachines", {"maxResults": 1001}) == (
        "ValidationException",
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy"
        " constraint: Member must have value less than or equal to 1000",
    )
    token = "t" * 1025
    assert refusal("ListStateMachines", {"nextToken": token}) == (
        "ValidationException",
        f"1 validation error detected: Value '{token}' at 'nextToken' failed to satisfy"
        " constraint: Member must have length less than or equal to 1024",
    )
    assert refusal("ListStateMachines", {"maxResults": -1})[1].endswith(
        "Member must have value greater than or equal to 0"
    )


def test_every_problem_is_counted_and_sensitive_values_are_left_out() -> None:
    error_type, message = refusal(
        "StartExecution",
        {"stateMachineArn": "", "name": "n" * 81, "input": "x" * 262_145},
    )
    assert error_type == "ValidationException"
    assert message.startswith("3 validation errors detected: ")
    assert "Value '' at 'stateMachineArn'" in message
    assert "Value at 'input' failed to satisfy constraint" in message  # not echoed
    assert "Member must have length less than or equal to 80" in message


def test_missing_required_members_and_list_members_are_located() -> None:
    encryption = {**CREATE, "encryptionConfiguration": {"kmsKeyId": "k"}}
    assert refusal("CreateStateMachine", encryption) == (
        "ValidationException",
        "1 validation error detected: Value null at 'encryptionConfiguration.type' failed to"
        " satisfy constraint: Member must not be null",
    )
    key = "k" * 129
    tags = {"resourceArn": "arn:x", "tags": [{"key": "ok"}, {"key": key, "value": "v"}]}
    assert refusal("TagResource", tags) == (
        "ValidationException",
        f"1 validation error detected: Value '{key}' at 'tags.2.member.key' failed to satisfy"
        " constraint: Member must have length less than or equal to 128",
    )
    assert refusal("CreateStateMachine", {"name": "M"})[1].startswith(
        "2 validation errors detected: Value null at 'definition'"
    )


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({**CREATE, "name": 5}, "'name'"),
        ({**CREATE, "tags": {"key": "k"}}, "'tags'"),
        ({**CREATE, "tracingConfiguration": {"enabled": "yes"}}, "'tracingConfiguration.enabled'"),
        ({**CREATE, "tags": ["k"]}, "'tags.1.member'"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_serialization_exception(
    params: dict[str, Any], where: str
) -> None:
    error_type, message = refusal("CreateStateMachine", params)
    assert error_type == "SerializationException"
    assert where in message


def test_booleans_are_not_integers() -> None:
    assert refusal("ListStateMachines", {"maxResults": True})[0] == "SerializationException"
    assert refusal("ListStateMachines", {"maxResults": 1.5})[0] == "SerializationException"


def test_the_trace_header_must_be_ascii() -> None:
    message = refusal("StartExecution", {"stateMachineArn": "arn:x", "traceHeader": "é"})[1]
    assert "Member must satisfy regular expression pattern: \\p{ASCII}*" in message
