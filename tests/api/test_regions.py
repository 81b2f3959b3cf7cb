"""ARNs moved between the configured region and the one a request is signed for."""

from __future__ import annotations

from orchestrator.api.regions import in_region, request_region

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=AKID/20261203/eu-west-1/states/aws4_request,"
    " SignedHeaders=host;x-amz-date, Signature=abc"
)


def test_the_region_is_read_from_the_credential_scope() -> None:
    assert request_region({"authorization": SIGNED}, "us-east-1") == "eu-west-1"
    assert request_region({}, "us-east-1") == "us-east-1"
    lambda_scope = SIGNED.replace("/states/", "/lambda/")
    assert request_region({"authorization": lambda_scope}, "us-east-1") == "us-east-1"


def test_only_states_arns_of_arn_fields_move() -> None:
    east = "arn:aws:states:us-east-1:123456789012"
    answer = {
        "stateMachineArn": f"{east}:stateMachine:M",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "input": f'{{"stateMachineArn": "{east}:stateMachine:M"}}',
        "events": [{"mapRunStartedEventDetails": {"mapRunArn": f"{east}:mapRun:M/L:x"}}],
        "otherArn": "arn:aws:states:ap-south-1:123456789012:stateMachine:N",
    }
    moved = in_region(answer, "us-east-1", "eu-west-1")
    assert moved["stateMachineArn"] == "arn:aws:states:eu-west-1:123456789012:stateMachine:M"
    assert moved["roleArn"] == answer["roleArn"]
    assert moved["input"] == answer["input"]  # the user's data
    assert moved["events"][0]["mapRunStartedEventDetails"]["mapRunArn"].startswith(
        "arn:aws:states:eu-west-1:"
    )
    assert moved["otherArn"] == answer["otherArn"]
    assert in_region(moved, "eu-west-1", "us-east-1") == answer
    assert in_region(answer, "us-east-1", "us-east-1") is answer
