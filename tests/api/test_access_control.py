"""Access control: with credentials configured, requests must carry a valid SigV4 signature."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.api.test_boto3 import free_port
from tests.processes import start_orchestrator

pytestmark = pytest.mark.integration
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"  # the service's region (SFN_REGION): signatures must be scoped to it
METRICS_TOKEN = "scrape-me-7f3a"  # SFN_METRICS_TOKEN: Prometheus's bearer token


@pytest.fixture(scope="module")
def endpoint(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("auth")
    env = {
        **os.environ,
        "AMQP_URL": amqp_url,
        "SFN_ACCESS_KEY_ID": KEY,
        "SFN_SECRET_ACCESS_KEY": SECRET,
        "SFN_REGION": REGION,
        "SFN_METRICS_TOKEN": METRICS_TOKEN,
    }
    port = free_port()
    service = start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


def client(endpoint: str, region: str = REGION, **options: Any) -> Any:
    return boto3.client("stepfunctions", endpoint_url=endpoint, region_name=region, **options)


def error_of(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


def test_a_signed_request_with_the_configured_key_is_served(endpoint: str) -> None:
    sfn = client(endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    names = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert "CallCenterStateMachine" in names


def test_wrong_secret_unknown_key_and_unsigned_requests_are_refused(endpoint: str) -> None:
    wrong_secret = client(endpoint, aws_access_key_id=KEY, aws_secret_access_key="not-the-secret")
    assert error_of(wrong_secret.list_state_machines) == ("InvalidSignatureException", 403)
    unknown = client(endpoint, aws_access_key_id="AKIDUNKNOWN", aws_secret_access_key=SECRET)
    assert error_of(unknown.list_state_machines) == ("UnrecognizedClientException", 403)
    unsigned = client(endpoint, config=Config(signature_version=UNSIGNED))
    assert error_of(unsigned.list_state_machines) == ("MissingAuthenticationTokenException", 403)


def signed(endpoint: str, body: bytes) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
        },
    )
    SigV4Auth(Credentials(KEY, SECRET), "states", REGION).add_auth(request)
    return request


def send(endpoint: str, request: AWSRequest, body: bytes) -> tuple[int, dict[str, Any]]:
    raw = urllib.request.Request(
        endpoint + "/", data=body, headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(raw, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_tampered_signature_or_body_is_refused(endpoint: str) -> None:
    body = b"{}"
    request = signed(endpoint, body)
    assert send(endpoint, request, body)[0] == 200, "the untouched request passes"
    authorization = request.headers["Authorization"]
    last = authorization[-1]
    request.headers.replace_header(
        "Authorization", authorization[:-1] + ("0" if last != "0" else "1")
    )
    status, answer = send(endpoint, request, body)
    assert (status, answer["__type"]) == (403, "InvalidSignatureException")
    request = signed(endpoint, body)
    status, answer = send(endpoint, request, b'{"maxResults": 1}')
    assert (status, answer["__type"]) == (403, "InvalidSignatureException")


def test_a_signature_for_another_region_gets_arns_in_that_region_and_another_service_is_refused(
    endpoint: str,
) -> None:
    # As LocalStack answers: a client signing for us-east-1 sees and uses us-east-1 ARNs.
    east = client(endpoint, region="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    home = client(endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    created = east.create_state_machine(
        name="Regional",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/r",
    )
    arn = created["stateMachineArn"]
    assert arn.startswith("arn:aws:states:us-east-1:")
    assert east.describe_state_machine(stateMachineArn=arn)["stateMachineArn"] == arn
    listed = [m["stateMachineArn"] for m in east.list_state_machines()["stateMachines"]]
    assert arn in listed and all(":us-east-1:" in a for a in listed)
    started = east.start_execution(stateMachineArn=arn, input="{}")
    assert started["executionArn"].startswith("arn:aws:states:us-east-1:")
    described = east.describe_execution(executionArn=started["executionArn"])
    assert described["stateMachineArn"] == arn
    # The configured region's clients see the same machine under their own ARNs; the input
    # is the user's own data and keeps whatever it holds.
    home_arn = arn.replace(":us-east-1:", f":{REGION}:")
    assert home.describe_state_machine(stateMachineArn=home_arn)["name"] == "Regional"
    home.delete_state_machine(stateMachineArn=home_arn)
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=b"{}",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
        },
    )
    SigV4Auth(Credentials(KEY, SECRET), "lambda", REGION).add_auth(request)
    status, answer = send(endpoint, request, b"{}")
    assert (status, answer) == (
        403,
        {
            "__type": "InvalidSignatureException",
            "message": "Credential should be scoped to correct service: 'states'.",
        },
    )


def metrics(endpoint: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(endpoint + "/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_metrics_need_a_signed_request_when_access_control_is_on(endpoint: str) -> None:
    status, body = metrics(endpoint, {})
    assert (status, json.loads(body)["__type"]) == (403, "MissingAuthenticationTokenException")
    status, body = metrics(endpoint, {"Authorization": "Bearer guessed"})
    assert (status, json.loads(body)["__type"]) == (403, "UnrecognizedClientException")
    request = AWSRequest(method="GET", url=endpoint + "/metrics")
    SigV4Auth(Credentials(KEY, SECRET), "states", REGION).add_auth(request)
    status, body = metrics(endpoint, dict(request.headers.items()))
    assert status == 200 and b"sfn_executions_started_total" in body
    wrong = AWSRequest(method="GET", url=endpoint + "/metrics")
    SigV4Auth(Credentials(KEY, "not-the-secret"), "states", REGION).add_auth(wrong)
    assert metrics(endpoint, dict(wrong.headers.items()))[0] == 403
    # The service's SFN_METRICS_TOKEN lets a scraper in without signing.
    status, body = metrics(endpoint, {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200 and b"sfn_queue_consumers" in body
