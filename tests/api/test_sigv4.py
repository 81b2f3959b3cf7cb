"""SigV4 verification against signatures produced by botocore, as boto3 and the AWS CLI sign."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.auth
import botocore.credentials
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse

from orchestrator.api.sigv4 import AuthFailure, Credentials, verify

AKID = "AKIDEXAMPLE0000000001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDENTIALS = Credentials(AKID, SECRET)
URL = "http://127.0.0.1:8083/"
JSON_BODY = json.dumps({"maxResults": 10, "nextToken": "abc def"}).encode()


@dataclasses.dataclass
class Arrived:
    """A request as it reaches the server."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def signed_at(self) -> datetime:
        amz_date = self.header("x-amz-date")
        if amz_date is not None:
            return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        date = self.header("date")
        assert date is not None
        return parsedate_to_datetime(date)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        for key in list(self.headers):
            if key.lower() == name.lower():
                del self.headers[key]
        self.headers[name] = value

    def verify(
        self,
        credentials: Credentials = CREDENTIALS,
        now: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        verify(
            self.method,
            self.path,
            self.query,
            self.headers,
            self.body,
            credentials,
            self.signed_at if now is None else now,
            **kwargs,
        )


def signed(
    body: bytes = b"",
    *,
    url: str = URL,
    region: str = "us-east-1",
    service: str = "states",
    access_key: str = AKID,
    secret: str = SECRET,
    token: str | None = None,
    target: str = "AWSStepFunctions.ListStateMachines",
    extra_headers: Mapping[str, str] | None = None,
) -> Arrived:
    """Sign a request the way botocore does; return what a server receives."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    headers.update(extra_headers or {})
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(access_key, secret, token), service, region
    ).add_auth(request)
    return arrived(request.prepare())


def arrived(prepared: Any) -> Arrived:
    """What the HTTP client puts on the wire: botocore's headers plus Host (and the like)."""
    parts = urlsplit(prepared.url)
    headers = {
        name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
        for name, value in prepared.headers.items()
    }
    # urllib3/http.client add Host from the URL (port kept unless it is the default).
    headers.setdefault("Host", parts.netloc)
    headers.setdefault("Accept-Encoding", "identity")
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return Arrived(prepared.method, parts.path or "/", parts.query, headers, body)


def failure(request: Arrived, **kwargs: Any) -> AuthFailure:
    with pytest.raises(AuthFailure) as caught:
        request.verify(**kwargs)
    return caught.value


# --- correctly signed requests pass -------------------------------------------------------


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2", "local"])
@pytest.mark.parametrize("body", [b"", b"{}", JSON_BODY], ids=["empty", "empty-json", "json"])
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEBYaDH+session/token=="])
def test_valid_signature_passes(region: str, body: bytes, token: str | None) -> None:
    request = signed(body, region=region, token=token)
    if token is not None:
        assert request.header("x-amz-security-token") == token
        assert "x-amz-security-token" in (request.header("authorization") or "")
    request.verify()


def test_header_names_in_any_case() -> None:
    request = signed(JSON_BODY)
    request.headers = {name.lower(): value for name, value in request.headers.items()}
    request.verify()
    request.headers = {name.upper(): value for name, value in request.headers.items()}
    request.verify()


def test_header_values_are_trimmed_and_inner_whitespace_collapsed() -> None:
    request = signed(JSON_BODY, extra_headers={"X-Amz-Meta": "a   b\tc"})
    request.set_header("X-Amz-Meta", "  a b   c  ")
    request.verify()


def test_default_port_host_and_path_and_query() -> None:
    url = "http://localhost/some%20path/./x/../state-machines/?b=2&a=~1%2F%20&a=0&empty"
    request = signed(JSON_BODY, url=url)
    assert request.header("host") == "localhost"
    assert request.path == "/some%20path/./x/../state-machines/"
    request.verify()


def test_unsigned_headers_may_change() -> None:
    request = signed(JSON_BODY)
    request.set_header("User-Agent", "something else")
    request.set_header("Content-Length", str(len(JSON_BODY)))
    request.verify()


def test_date_header_instead_of_x_amz_date() -> None:
    request = signed(JSON_BODY, extra_headers={"Date": "Thu, 01 Jan 2015 00:00:00 GMT"})
    assert request.header("x-amz-date") is None
    assert request.header("date") is not None
    request.verify()


def test_content_sha256_header_matching_the_body() -> None:
    digest = hashlib.sha256(JSON_BODY).hexdigest()
    signed(JSON_BODY, extra_headers={"X-Amz-Content-SHA256": digest}).verify()


def test_clock_skew_within_the_window_passes() -> None:
    request = signed(JSON_BODY)
    request.verify(now=request.signed_at + timedelta(seconds=299))
    request.verify(now=request.signed_at - timedelta(seconds=299))
    request.verify(now=request.signed_at.replace(tzinfo=None))  # naive means UTC


def test_real_boto3_client_request_verifies() -> None:
    captured: list[Any] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        captured.append(request)
        return AWSResponse(request.url, 200, {}, _Raw(b'{"stateMachines": []}'))

    client = boto3.client(
        "stepfunctions",
        endpoint_url="http://127.0.0.1:8083",
        region_name="eu-central-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token="session-token",
    )
    client.meta.events.register("before-send.*", capture)
    assert client.list_state_machines(maxResults=5)["stateMachines"] == []
    (request,) = captured
    received = arrived(request)
    assert received.header("x-amz-target") == "AWSStepFunctions.ListStateMachines"
    received.verify()
    received.body = received.body.replace(b"5", b"6")
    assert failure(received).code == "InvalidSignatureException"


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


# --- tampering ----------------------------------------------------------------------------

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def test_tampered_body() -> None:
    request = signed(JSON_BODY)
    request.body = JSON_BODY.replace(b"10", b"11")
    error = failure(request)
    assert (error.code, error.message) == ("InvalidSignatureException", MISMATCH)


def test_tampered_target_header() -> None:
    request = signed(JSON_BODY)
    request.set_header("X-Amz-Target", "AWSStepFunctions.DeleteStateMachine")
    assert failure(request).code == "InvalidSignatureException"


@pytest.mark.parametrize(
    "field, value",
    [("method", "PUT"), ("path", "/other"), ("query", "a=1")],
)
def test_tampered_request_line(field: str, value: str) -> None:
    request = signed(JSON_BODY)
    setattr(request, field, value)
    assert failure(request).code == "InvalidSignatureException"


def test_tampered_host() -> None:
    request = signed(JSON_BODY)
    request.set_header("Host", "evil.example:8083")
    assert failure(request).code == "InvalidSignatureException"


def test_tampered_security_token() -> None:
    request = signed(JSON_BODY, token="token-a")
    request.set_header("X-Amz-Security-Token", "token-b")
    assert failure(request).code == "InvalidSignatureException"


def test_content_sha256_header_not_matching_the_body() -> None:
    digest = hashlib.sha256(JSON_BODY).hexdigest()
    request = signed(JSON_BODY, extra_headers={"X-Amz-Content-SHA256": digest})
    request.body = b"{}"
    assert failure(request).code == "InvalidSignatureException"
    unsigned = signed(JSON_BODY, extra_headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert failure(unsigned).code == "InvalidSignatureException"


def test_wrong_secret() -> None:
    error = failure(signed(JSON_BODY, secret="not-the-secret"))
    assert (error.code, error.message) == ("InvalidSignatureException", MISMATCH)


def test_unknown_access_key_id() -> None:
    error = failure(signed(JSON_BODY, access_key="AKIDSOMEONEELSE"))
    assert error.code == "UnrecognizedClientException"
    assert error.message == "The security token included in the request is invalid."


def test_signature_of_another_length_or_alphabet() -> None:
    request = signed(JSON_BODY)
    authorization = request.header("authorization")
    assert authorization is not None
    request.set_header("Authorization", authorization[:-64] + "ß" * 10)
    assert failure(request).code == "InvalidSignatureException"


# --- missing or malformed authentication --------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_authorization(value: str | None) -> None:
    request = signed(JSON_BODY)
    request.set_header("Authorization", "x")
    if value is None:
        request.headers = {k: v for k, v in request.headers.items() if k != "Authorization"}
    else:
        request.set_header("Authorization", value)
    error = failure(request)
    assert (error.code, error.message) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


@pytest.mark.parametrize(
    "authorization, expected",
    [
        ("Bearer abc.def.ghi", "Authorization header requires 'Credential' parameter."),
        ("AWS AKIDEXAMPLE:c2lnbmF0dXJl", "Authorization header requires 'Credential' parameter."),
        ("AWS4-ECDSA-P256-SHA256 Credential=x", "Unsupported AWS 'algorithm'"),
        ("AWS4-HMAC-SHA256 garbage", "'garbage' not a valid key=value pair (missing equal-sign)"),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20261125/us-east-1/states/aws4_request",
            "Authorization header requires 'Signature' parameter. "
            "Authorization header requires 'SignedHeaders' parameter.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/us-east-1/states/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=abc",
            "Credential must have exactly 5 slash-delimited elements",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20261125/us-east-1/states/aws4_request, "
            "SignedHeaders=host;;x-amz-date, Signature=abc",
            "SignedHeaders must be header names",
        ),
    ],
)
def test_malformed_authorization(authorization: str, expected: str) -> None:
    request = signed(JSON_BODY)
    request.set_header("Authorization", authorization)
    error = failure(request)
    assert error.code == "IncompleteSignatureException"
    assert expected in error.message


def test_no_date_header() -> None:
    request = signed(JSON_BODY)
    now = request.signed_at
    request.headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-date"}
    error = failure(request, now=now)
    assert error.code == "IncompleteSignatureException"
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in error.message


def test_bad_x_amz_date() -> None:
    request = signed(JSON_BODY)
    now = request.signed_at
    request.set_header("X-Amz-Date", "2026-11-25T12:00:00Z")
    error = failure(request, now=now)
    assert error.code == "IncompleteSignatureException"
    assert "ISO-8601 'basic format'" in error.message


def test_host_not_signed() -> None:
    request = signed(JSON_BODY)
    authorization = request.header("authorization")
    assert authorization is not None
    request.set_header(
        "Authorization",
        authorization.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;"),
    )
    error = failure(request)
    assert error.code == "InvalidSignatureException"
    assert "'Host'" in error.message


# --- time and scope -----------------------------------------------------------------------


def test_expired() -> None:
    request = signed(JSON_BODY)
    signed_at = request.signed_at
    now = signed_at + timedelta(hours=1)
    error = failure(request, now=now)
    assert error.code == "InvalidSignatureException"
    stamp = "%Y%m%dT%H%M%SZ"
    assert error.message == (
        f"Signature expired: {signed_at:{stamp}} is now earlier than "
        f"{now - timedelta(minutes=5):{stamp}} ({now:{stamp}} - 5 min.)"
    )


def test_not_yet_current() -> None:
    request = signed(JSON_BODY)
    error = failure(request, now=request.signed_at - timedelta(hours=1))
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith("Signature not yet current: ")
    assert error.message.endswith(" + 5 min.)")


def test_custom_skew_window() -> None:
    request = signed(JSON_BODY)
    now = request.signed_at + timedelta(seconds=90)
    request.verify(now=now)
    error = failure(request, now=now, max_skew_seconds=60)
    assert error.message.endswith(" - 1 min.)")


def test_wrong_service_in_scope() -> None:
    request = signed(JSON_BODY, service="lambda")
    error = failure(request)
    assert error.code == "InvalidSignatureException"
    assert error.message == "Credential should be scoped to correct service: 'states'."
    # ...and the same signature is fine for a server that is that service.
    request.verify(service="lambda")


def test_region_in_scope_must_be_the_services_when_it_is_given() -> None:
    signed(JSON_BODY, region="eu-west-1").verify(region="eu-west-1")
    error = failure(signed(JSON_BODY, region="us-east-1"), region="eu-west-1")
    assert error.code == "InvalidSignatureException"
    assert error.message == "Credential should be scoped to a valid region, not 'us-east-1'. "


def test_wrong_terminator_in_scope() -> None:
    request = signed(JSON_BODY)
    authorization = request.header("authorization")
    assert authorization is not None
    request.set_header("Authorization", authorization.replace("/aws4_request", "/aws5_request"))
    error = failure(request)
    assert error.code == "InvalidSignatureException"
    assert "valid terminator" in error.message


def test_scope_date_not_matching_the_request_date() -> None:
    request = signed(JSON_BODY)
    authorization = request.header("authorization")
    assert authorization is not None
    day = request.signed_at.strftime("%Y%m%d")
    other = (request.signed_at - timedelta(days=1)).strftime("%Y%m%d")
    request.set_header("Authorization", authorization.replace(f"/{day}/", f"/{other}/"))
    error = failure(request)
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith("Date in Credential scope does not match")


# --- the exception ------------------------------------------------------------------------


def test_auth_failure_is_a_frozen_exception() -> None:
    error = AuthFailure("InvalidSignatureException", "no")
    assert isinstance(error, Exception)
    assert str(error) == "InvalidSignatureException: no"
    assert error.args == ("InvalidSignatureException", "no")
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.code = "x"  # type: ignore[misc]
