"""The HTTP Task and API Gateway target against a real HTTP server started by the test.

The server (``http.server`` in a thread) echoes what it received, answers errors, issues
OAuth tokens, checks SigV4 signatures, and stands in for the API Gateway APIs of the
executions recorded on AWS (``integrations.jsonl``), whose parameters are replayed.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

import messages
from orchestrator.integrations.http_target import (
    MAX_RESPONSE_BYTES,
    Connection,
    HttpTarget,
    parse_connections,
)
from tests.integrations.moto_server import MotoServer, moto_server  # noqa: F401

REGION = "us-east-1"
CORPUS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "integrations.jsonl"
)
ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CLIENT_ID, CLIENT_SECRET = "client-1", "client-secret-1"
MISSING_TOKEN = b'{"message":"Missing Authentication Token"}'


# -- the server ---------------------------------------------------------------------------------


@dataclass
class ServerState:
    """What the server saw and the OAuth tokens it issued."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    issued: int = 0
    valid_token: str | None = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urlsplit(self.path)
        seen = {
            "method": self.command,
            "path": parts.path,
            "query": parse_qsl(parts.query, keep_blank_values=True),
            "headers": [[name, value] for name, value in self.headers.items()],
            "body": body.decode(),
        }
        state = self.server.state
        path = parts.path
        if path == "/token":
            state.token_requests.append(seen)
            self.token(body)
            return
        state.requests.append(seen)
        if path.startswith("/echo") or path.startswith("/test/"):
            self.reply(200, json.dumps(seen).encode())
        elif path == "/text":
            self.reply(200, b"plain text", "text/plain; charset=utf-8")
        elif path == "/missing":
            self.reply(404, b'{"message":"Not Found"}')
        elif path == "/slow":
            time.sleep(1.0)
            self.reply(200, b"{}")
        elif path == "/big":
            self.reply(200, b'"' + b"a" * MAX_RESPONSE_BYTES + b'"')
        elif path == "/big-stream":
            self.stream(b"a" * (MAX_RESPONSE_BYTES + 10))
        elif path == "/redirect-same":
            self.redirect("/echo/after")
        elif path == "/redirect-other":
            self.redirect(f"http://localhost:{self.server.server_port}/echo")
        elif path == "/oauth":
            if self.headers.get("Authorization") == f"Bearer {state.valid_token}":
                self.reply(200, json.dumps(seen).encode())
            else:
                self.reply(401, b'{"message":"token refused"}')
        elif path.startswith("/signed/"):
            self.reply(200 if signature_valid(self, body) else 403, json.dumps(seen).encode())
        else:
            self.recorded_api(path, parts.query, body)

    def recorded_api(self, path: str, query: str, body: bytes) -> None:
        """The APIs of the recorded executions: their Lambda functions' answers, and API
        Gateway's own 403 for a route it does not have."""
        if path == "/sfn-apigw-api/get_constant":
            self.reply(200, b"{}")
        elif path == "/sfn-apigw-api/id_func" and query:
            pairs = ", ".join(f"{key}={value}" for key, value in parse_qsl(query))
            answer = {"body": json.loads(body), "queryStringParameters": f"{{{pairs}}}"}
            self.reply(200, json.dumps(answer).encode())
        elif path == "/sfn-apigw-api/id_func":  # json.dumps(json.loads(event body)), or {}
            self.reply(200, json.dumps(json.loads(body)).encode() if body else b"{}")
        elif path == "/dev":
            failed = json.loads(body).get("fail")
            self.reply(
                200,
                json.dumps(
                    {"errors": ["Errors.Failure"]} if failed else {"hello": "world"}
                ).encode(),
            )
        else:
            self.reply(403, MISSING_TOKEN)

    def token(self, body: bytes) -> None:
        state = self.server.state
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = dict(parse_qsl(body.decode()))
        if self.headers.get("Authorization") != f"Basic {expected}" or form.get("grant_type") != (
            "client_credentials"
        ):
            self.reply(400, b'{"error":"invalid_client"}')
            return
        state.issued += 1
        state.valid_token = f"token-{state.issued}"
        answer = {"access_token": state.valid_token, "token_type": "Bearer", "expires_in": 3600}
        self.reply(200, json.dumps(answer).encode())

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def stream(self, body: bytes) -> None:
        """A body with no Content-Length: it ends when the connection closes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that gave up (the timeout test) resets its connection."""


def signature_valid(handler: Handler, body: bytes) -> bool:
    """Whether the request carries a valid SigV4 signature made with the test's keys."""
    authorization = handler.headers.get("Authorization", "")
    fields = dict(
        part.strip().split("=", 1)
        for part in authorization.removeprefix("AWS4-HMAC-SHA256 ").split(",")
    )
    _, date, region, service, _ = fields["Credential"].split("/")
    request = AWSRequest(
        method=handler.command, url=f"http://{handler.headers['Host']}{handler.path}", data=body
    )
    for name in fields["SignedHeaders"].split(";"):
        for value in handler.headers.get_all(name) or []:
            request.headers[name] = value
    request.context["timestamp"] = handler.headers["X-Amz-Date"]
    signer = SigV4Auth(ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return bool(expected == fields["Signature"] and date == handler.headers["X-Amz-Date"][:8])


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.state = ServerState()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def state(server: Server) -> ServerState:
    """The server's record, emptied for each test."""
    server.state = ServerState()
    return server.state


@pytest.fixture
def base(server: Server) -> str:
    return f"http://127.0.0.1:{server.server_port}"


# -- connections and calls ----------------------------------------------------------------------


def connections(base: str) -> dict[str, Connection]:
    problems: list[str] = []
    parsed = parse_connections(
        {
            "keyed": {
                "AuthorizationType": "API_KEY",
                "AuthParameters": {
                    "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "key-1"},
                    "InvocationHttpParameters": {
                        "HeaderParameters": [{"Key": "X-Env", "Value": "from-connection"}],
                        "QueryStringParameters": [{"Key": "tenant", "Value": "t1"}],
                        "BodyParameters": [
                            {"Key": "source", "Value": "connection", "IsValueSecret": False}
                        ],
                    },
                },
            },
            "plain": {
                "AuthorizationType": "API_KEY",
                "AuthParameters": {
                    "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "key-2"}
                },
            },
            "basic": {
                "AuthorizationType": "BASIC",
                "AuthParameters": {
                    "BasicAuthParameters": {"Username": "sfn", "Password": {"Env": "HTTP_TEST_PW"}}
                },
            },
            "oauth": oauth_connection(base, CLIENT_SECRET),
            "oauth-wrong": oauth_connection(base, "not-the-secret"),
        },
        "/Connections",
        problems,
    )
    assert problems == []
    return parsed


def oauth_connection(base: str, secret: str) -> dict[str, Any]:
    return {
        "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
        "AuthParameters": {
            "OAuthParameters": {
                "AuthorizationEndpoint": f"{base}/token",
                "HttpMethod": "POST",
                "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": secret},
                "OAuthHttpParameters": {"BodyParameters": [{"Key": "scope", "Value": "read"}]},
            }
        },
    }


@pytest.fixture
def target(base: str, monkeypatch: pytest.MonkeyPatch) -> HttpTarget:
    monkeypatch.setenv("HTTP_TEST_PW", "pw-from-env")
    session = botocore.session.Session()
    session.set_credentials(ACCESS_KEY, SECRET_KEY)
    return HttpTarget(connections(base), timeout=5.0, session=session)


def arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:111111111111:connection/{name}/0b1c2d3e-aaaa-bbbb-cccc-1234"


def invoke(
    target: HttpTarget,
    parameters: Any,
    service: str = "http",
    pattern: str = "",
    credentials: Any = None,
) -> messages.AnyTaskResult:
    request = messages.IntegrationRequest(
        execution_arn=f"arn:aws:states:{REGION}:111111111111:execution:Machine:run",
        execution_name="run",
        state_machine_name="Machine",
        state_name="Call",
        resource=f"arn:aws:states:::{service}:invoke{pattern}",
        service=service,
        action="invoke",
        pattern=pattern,  # type: ignore[arg-type]
        region=REGION,
        task_token="token",
        attempt=2,
        parameters=parameters,
        credentials=credentials,
    )
    results = target.call(request)
    assert results is not None and len(results) == 1
    return results[0]


def output(result: messages.AnyTaskResult) -> Any:
    assert isinstance(result, messages.TaskSucceeded), result
    assert (result.task_token, result.attempt) == ("token", 2)
    return result.output


def failure(result: messages.AnyTaskResult) -> tuple[str, str]:
    assert isinstance(result, messages.TaskCallFailed), result
    assert (result.task_token, result.attempt) == ("token", 2)
    return result.error, result.cause or ""


def header(seen: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in seen["headers"] if key.lower() == name.lower()]


# -- http:invoke --------------------------------------------------------------------------------


def test_get_with_query_parameters_and_api_key(target: HttpTarget, base: str) -> None:
    result = output(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/echo/items?fixed=1",
                "Method": "GET",
                "Authentication": {"ConnectionArn": arn("keyed")},
                "Headers": {"X-Trace": "t-1", "x-env": "from-task", "Accept": "application/json"},
                "QueryParameters": {"q": "a b&c", "ids": [1, 2], "flag": True, "tenant": "mine"},
            },
        )
    )
    assert result["StatusCode"] == 200 and result["StatusText"] == "OK"
    assert list(result) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert result["Headers"]["Content-Type"] == ["application/json"]
    assert all(isinstance(values, list) for values in result["Headers"].values())
    seen = result["ResponseBody"]  # JSON, so parsed
    assert seen["method"] == "GET" and seen["path"] == "/echo/items"
    # The connection's query parameter replaces the task's of the same name.
    assert seen["query"] == [
        ["fixed", "1"],
        ["q", "a b&c"],
        ["ids", "1"],
        ["ids", "2"],
        ["flag", "true"],
        ["tenant", "t1"],
    ]
    assert header(seen, "x-api-key") == ["key-1"]
    assert header(seen, "X-Trace") == ["t-1"]
    assert header(seen, "X-Env") == ["from-connection"]  # the connection's wins
    assert header(seen, "User-Agent") == [f"Amazon|StepFunctions|HttpInvoke|{REGION}"]
    assert header(seen, "Range") == ["bytes=0-262144"]
    assert header(seen, "Content-Type") == [] and seen["body"] == ""


def test_post_json_merges_the_connection_body(target: HttpTarget, base: str) -> None:
    result = output(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/echo",
                "Method": "POST",
                "Authentication": {"ConnectionArn": arn("keyed")},
                "RequestBody": {"name": "Zoë", "source": "task", "nested": {"n": [1, 2.5]}},
            },
        )
    )
    seen = result["ResponseBody"]
    assert seen["method"] == "POST"
    assert json.loads(seen["body"]) == {
        "name": "Zoë",
        "source": "connection",
        "nested": {"n": [1, 2.5]},
    }
    assert header(seen, "Content-Type") == ["application/json; charset=UTF-8"]


@pytest.mark.parametrize(
    ("array_format", "expected"),
    [
        (None, [("list[0]", "a"), ("list[1]", "b c")]),
        ("INDICES", [("list[0]", "a"), ("list[1]", "b c")]),
        ("REPEAT", [("list", "a"), ("list", "b c")]),
        ("COMMAS", [("list", "a,b c")]),
        ("BRACKETS", [("list[]", "a"), ("list[]", "b c")]),
    ],
)
def test_url_encoded_body(
    target: HttpTarget, base: str, array_format: str | None, expected: list[tuple[str, str]]
) -> None:
    transform: dict[str, Any] = {"RequestBodyEncoding": "URL_ENCODED"}
    if array_format is not None:
        transform["RequestEncodingOptions"] = {"ArrayFormat": array_format}
    result = output(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/echo",
                "Method": "POST",
                "Authentication": {"ConnectionArn": arn("plain")},
                "Transform": transform,
                "RequestBody": {"list": ["a", "b c"], "user": {"id": 7, "ok": False}, "x": "&="},
            },
        )
    )
    seen = result["ResponseBody"]
    assert header(seen, "Content-Type") == ["application/x-www-form-urlencoded"]
    assert parse_qsl(seen["body"]) == [
        *expected,
        ("user[id]", "7"),
        ("user[ok]", "false"),
        ("x", "&="),
    ]


def test_text_response_stays_text(target: HttpTarget, base: str) -> None:
    result = output(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/text",
                "Method": "GET",
                "Authentication": {"ConnectionArn": arn("plain")},
            },
        )
    )
    assert result["ResponseBody"] == "plain text"
    assert result["Headers"]["Content-Type"] == ["text/plain; charset=utf-8"]


def test_status_404_fails_with_the_response_as_cause(target: HttpTarget, base: str) -> None:
    error, cause = failure(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/missing",
                "Method": "DELETE",
                "Authentication": {"ConnectionArn": arn("plain")},
            },
        )
    )
    assert error == "States.Http.StatusCode.404"
    response = json.loads(cause)
    assert list(response) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert response["ResponseBody"] == {"message": "Not Found"}
    assert (response["StatusCode"], response["StatusText"]) == (404, "Not Found")
    assert response["Headers"]["Content-Length"] == ["23"]


def test_socket_error(target: HttpTarget) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error, cause = failure(
        invoke(
            target,
            {
                "ApiEndpoint": f"http://127.0.0.1:{port}/x?secret=hush",
                "Method": "GET",
                "Authentication": {"ConnectionArn": arn("plain")},
            },
        )
    )
    assert error == "States.Http.Socket"
    assert f"127.0.0.1:{port}/x" in cause and "hush" not in cause


def test_timeout_is_a_socket_error(
    base: str, state: ServerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_TEST_PW", "pw-from-env")
    target = HttpTarget(connections(base), timeout=0.3)
    started = time.monotonic()
    error, cause = failure(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/slow",
                "Method": "GET",
                "Authentication": {"ConnectionArn": arn("plain")},
            },
        )
    )
    assert error == "States.Http.Socket" and "in time" in cause
    assert time.monotonic() - started < 0.9
    assert [seen["path"] for seen in state.requests] == ["/slow"]


def test_basic_auth_from_the_environment(target: HttpTarget, base: str) -> None:
    seen = output(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/echo",
                "Method": "GET",
                "Authentication": {"ConnectionArn": arn("basic")},
            },
        )
    )["ResponseBody"]
    expected = base64.b64encode(b"sfn:pw-from-env").decode()
    assert header(seen, "Authorization") == [f"Basic {expected}"]


def test_oauth_client_credentials(target: HttpTarget, base: str, state: ServerState) -> None:
    parameters = {
        "ApiEndpoint": f"{base}/oauth",
        "Method": "GET",
        "Authentication": {"ConnectionArn": arn("oauth")},
    }
    first = output(invoke(target, parameters))["ResponseBody"]
    second = output(invoke(target, parameters))["ResponseBody"]
    assert header(first, "Authorization") == header(second, "Authorization") == ["Bearer token-1"]
    assert len(state.token_requests) == 1  # the token was kept
    token_request = state.token_requests[0]
    assert token_request["method"] == "POST"
    assert dict(parse_qsl(token_request["body"])) == {
        "grant_type": "client_credentials",
        "scope": "read",
    }
    assert header(token_request, "Content-Type") == ["application/x-www-form-urlencoded"]

    state.valid_token = "revoked-by-the-server"  # the next call is refused once, then renewed
    third = output(invoke(target, parameters))["ResponseBody"]
    assert header(third, "Authorization") == ["Bearer token-2"]
    assert len(state.token_requests) == 2
    assert [seen["path"] for seen in state.requests] == ["/oauth"] * 4


def test_oauth_token_renewed_once_for_concurrent_refusals(
    target: HttpTarget, base: str, state: ServerState
) -> None:
    parameters = {
        "ApiEndpoint": f"{base}/oauth",
        "Method": "GET",
        "Authentication": {"ConnectionArn": arn("oauth")},
    }
    output(invoke(target, parameters))
    state.valid_token = "revoked-by-the-server"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: invoke(target, parameters), range(4)))
    assert [output(result)["StatusCode"] for result in results] == [200] * 4
    assert len(state.token_requests) == 2  # the first token, and one renewal


def test_oauth_refused_fails_without_the_secret(target: HttpTarget, base: str) -> None:
    error, cause = failure(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/oauth",
                "Method": "GET",
                "Authentication": {"ConnectionArn": arn("oauth-wrong")},
            },
        )
    )
    assert error == "Events.ConnectionResource.InvalidConnectionState"
    assert "oauth-wrong" in cause and "answered 400" in cause
    assert "not-the-secret" not in cause


def test_redirects_stay_on_the_same_host(target: HttpTarget, base: str) -> None:
    connection = {"ConnectionArn": arn("plain")}
    same = output(
        invoke(
            target,
            {"ApiEndpoint": f"{base}/redirect-same", "Method": "GET", "Authentication": connection},
        )
    )
    assert same["ResponseBody"]["path"] == "/echo/after"
    assert header(same["ResponseBody"], "x-api-key") == ["key-2"]
    error, cause = failure(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}/redirect-other",
                "Method": "GET",
                "Authentication": connection,
            },
        )
    )
    assert error == "States.Http.StatusCode.302"
    assert json.loads(cause)["Headers"]["Location"] == [
        f"http://localhost:{base.rsplit(':', 1)[1]}/echo"
    ]


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_oversized_body_exceeds_the_payload_limit(target: HttpTarget, base: str, path: str) -> None:
    error, cause = failure(
        invoke(
            target,
            {
                "ApiEndpoint": f"{base}{path}",
                "Method": "GET",
                "Authentication": {"ConnectionArn": arn("plain")},
            },
        )
    )
    assert error == "States.DataLimitExceeded"
    assert cause == (
        "The state/task 'Call' returned a result with a size exceeding the maximum number of"
        " bytes service limit."
    )


@pytest.mark.parametrize(
    ("parameters", "cause"),
    [
        (
            {"Authentication": {"ConnectionArn": arn("nobody")}},
            "The connection 'nobody' of " + arn("nobody") + " is not defined",
        ),
        ({"Authentication": {}}, "Authentication.ConnectionArn is required"),
        ({"Authentication": {"ConnectionArn": "nobody"}}, "must be an EventBridge connection"),
        ({"Headers": {"Host": "elsewhere"}}, "unsupported values: Host"),
        ({"Headers": {"X-Amz-Date": "now"}}, "unsupported values: X-Amz-Date"),
        ({"Headers": {"X-Bad": "a\r\nInjected: 1"}}, "header X-Bad has a line break"),
        ({"Method": "TRACE"}, "Method must be one of"),
        ({"ApiEndpoint": "ftp://example.com"}, "ApiEndpoint must be an http(s) URL"),
        ({"Transform": {"RequestBodyEncoding": "XML"}}, "RequestBodyEncoding must be"),
        (
            {
                "Method": "POST",
                "Authentication": {"ConnectionArn": arn("keyed")},
                "RequestBody": "text",
            },
            "The RequestBody is a string and the connection has body parameters",
        ),
    ],
)
def test_refused_parameters_fail_at_runtime(
    target: HttpTarget, base: str, state: ServerState, parameters: dict[str, Any], cause: str
) -> None:
    request = {
        "ApiEndpoint": f"{base}/echo",
        "Method": "GET",
        "Authentication": {"ConnectionArn": arn("plain")},
        **parameters,
    }
    error, got = failure(invoke(target, request))
    assert error == "States.Runtime"
    assert cause in got
    assert state.requests == []  # nothing was sent


def test_other_integrations_are_not_ours(target: HttpTarget) -> None:
    request = messages.IntegrationRequest(
        execution_arn="arn:aws:states:us-east-1:111111111111:execution:M:e",
        execution_name="e",
        state_machine_name="M",
        state_name="S",
        resource="arn:aws:states:::sqs:sendMessage",
        service="sqs",
        action="sendMessage",
        region=REGION,
        task_token="t",
        attempt=0,
        parameters={},
    )
    assert target.call(request) is None


# -- apigateway:invoke --------------------------------------------------------------------------


def test_apigateway_request_and_result_shape(target: HttpTarget, base: str) -> None:
    result = output(
        invoke(
            target,
            {
                "ApiEndpoint": base,
                "Method": "POST",
                "Stage": "test",
                "Path": "pets/1 2",
                "Headers": {"custom": ["a", "b"], "TaskToken": ["t-1"]},
                "QueryParameters": {"p": ["x", "y"], "one": ["1"]},
                "RequestBody": "HelloWorld",
                "AuthType": "NO_AUTH",
            },
            service="apigateway",
        )
    )
    assert list(result) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert (result["StatusCode"], result["StatusText"]) == (200, "OK")
    assert all(isinstance(values, list) for values in result["Headers"].values())
    seen = result["ResponseBody"]
    assert seen["path"] == "/test/pets/1%202"
    assert seen["query"] == [["p", "x"], ["p", "y"], ["one", "1"]]
    assert header(seen, "custom") == ["a", "b"]  # one line per value
    assert seen["body"] == '"HelloWorld"'  # RequestBody goes as JSON
    assert header(seen, "Content-Type") == ["application/json"]
    assert header(seen, "Authorization") == []


def test_apigateway_403(target: HttpTarget, base: str) -> None:
    error, cause = failure(
        invoke(
            target,
            {"ApiEndpoint": base, "Method": "GET", "Stage": "prod", "Path": "nowhere"},
            service="apigateway",
        )
    )
    assert (error, cause) == ("ApiGateway.403", MISSING_TOKEN.decode())


def test_apigateway_wait_for_task_token_submits(target: HttpTarget, base: str) -> None:
    result = invoke(
        target,
        {"ApiEndpoint": base, "Method": "GET", "Stage": "test", "Path": "callback"},
        service="apigateway",
        pattern=".waitForTaskToken",
    )
    assert isinstance(result, messages.TaskSubmitted)
    submitted: Any = result.output
    assert submitted["StatusCode"] == 200
    assert submitted["ResponseBody"]["path"] == "/test/callback"


@pytest.mark.parametrize("auth_type", ["IAM_ROLE", "RESOURCE_POLICY"])
def test_apigateway_signs_with_sigv4(target: HttpTarget, base: str, auth_type: str) -> None:
    result = output(
        invoke(
            target,
            {
                "ApiEndpoint": base,
                "Method": "PUT",
                "Stage": "signed",
                "Path": "orders",
                "Headers": {"custom": ["a", "b"]},
                "QueryParameters": {"z": ["2"], "a": ["1"]},
                "RequestBody": {"order": 1},
                "AuthType": auth_type,
            },
            service="apigateway",
        )
    )
    assert result["StatusCode"] == 200  # the server checked the signature
    (authorization,) = header(result["ResponseBody"], "Authorization")
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"
    ) and authorization.split(",")[0].endswith(f"/{REGION}/execute-api/aws4_request")


def test_apigateway_signs_as_the_task_role(
    base: str,
    moto_server: MotoServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server.url)
    session = botocore.session.Session()
    session.set_credentials(ACCESS_KEY, SECRET_KEY)
    target = HttpTarget({}, timeout=5.0, session=session)
    result = output(
        invoke(
            target,
            {
                "ApiEndpoint": base,
                "Method": "GET",
                "Stage": "test",
                "Path": "as-role",
                "AuthType": "IAM_ROLE",
            },
            service="apigateway",
            credentials={"RoleArn": "arn:aws:iam::123456789012:role/api-caller"},
        )
    )
    seen = result["ResponseBody"]
    (authorization,) = header(seen, "Authorization")
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
    assert f"Credential={ACCESS_KEY}/" not in authorization  # the role's keys, not ours
    assert header(seen, "X-Amz-Security-Token") != []


def test_apigateway_refuses_reserved_headers(target: HttpTarget, base: str) -> None:
    error, cause = failure(
        invoke(
            target,
            {"ApiEndpoint": base, "Method": "GET", "Headers": {"X-Forwarded-For": ["1.2.3.4"]}},
            service="apigateway",
        )
    )
    assert (error, cause) == (
        "States.Runtime",
        "The 'Headers' field contains unsupported values: X-Forwarded-For",
    )


def test_apigateway_no_answer(target: HttpTarget) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error, _ = failure(
        invoke(
            target,
            {"ApiEndpoint": f"http://127.0.0.1:{port}", "Method": "GET", "Stage": "dev"},
            service="apigateway",
        )
    )
    assert error == "ApiGateway.ConnectException"


def test_apigateway_calls_recorded_on_aws(target: HttpTarget, base: str) -> None:
    """Each recorded ``apigateway:invoke`` call's parameters, sent to stand-ins for the
    recorded APIs, give the recorded outcome (CloudFront's headers aside)."""
    if not CORPUS.is_file():
        message = f"conformance corpus not found at {CORPUS} (it sits beside the checkout in CI)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    calls = [
        call
        for line in CORPUS.read_text().splitlines()
        for call in json.loads(line).get("service_calls", [])
        if call.get("resource_type") == "apigateway"
    ]
    assert len(calls) >= 10
    for call in calls:
        parameters = {**call["parameters"], "ApiEndpoint": base}
        result = invoke(target, parameters, service="apigateway")
        context = f"{call['state']}: {call['parameters']}"
        if call["outcome"] == "failed":
            error, cause = failure(result)
            expected = call["cause"]
            assert error == call["error"], context
            assert (json.loads(cause) if isinstance(expected, dict) else cause) == expected
            continue
        got, recorded = output(result), call["output"]
        assert got["ResponseBody"] == recorded["ResponseBody"], context
        assert (got["StatusCode"], got["StatusText"]) == (200, "OK"), context
        for name in ("Content-Type", "Content-Length"):
            assert got["Headers"][name] == recorded["Headers"][name], context


# -- the routing file's Connections -------------------------------------------------------------


def test_parse_connections_reports_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_TEST_UNSET", raising=False)
    problems: list[str] = []
    parsed = parse_connections(
        {
            "bad name!": {},
            "no-type": {"AuthParameters": {}},
            "key": {
                "AuthorizationType": "API_KEY",
                "AuthParameters": {
                    "ApiKeyAuthParameters": {
                        "ApiKeyName": "x-api-key",
                        "ApiKeyValue": {"Env": "HTTP_TEST_UNSET"},
                    },
                    "BasicAuthParameters": {},
                },
            },
            "oauth": {
                "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
                "AuthParameters": {
                    "OAuthParameters": {
                        "AuthorizationEndpoint": "not a url",
                        "HttpMethod": "PATCH",
                        "ClientParameters": {"ClientID": "id"},
                        "OAuthHttpParameters": {"HeaderParameters": [{"Key": "a b", "Value": 1}]},
                    }
                },
                "Colour": "red",
            },
            "ok": {
                "AuthorizationType": "BASIC",
                "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"}},
            },
        },
        "/Connections",
        problems,
    )
    assert list(parsed) == ["ok"]
    assert problems == [
        "/Connections/bad name!: a connection name has 1 to 64 of A-Z a-z 0-9 . _ -",
        "/Connections/no-type/AuthorizationType: must be one of API_KEY, BASIC,"
        " OAUTH_CLIENT_CREDENTIALS",
        "/Connections/key/AuthParameters/BasicAuthParameters: unknown field (allowed:"
        " ApiKeyAuthParameters, InvocationHttpParameters)",
        "/Connections/key/AuthParameters/ApiKeyAuthParameters/ApiKeyValue: the environment"
        " variable HTTP_TEST_UNSET is not set",
        "/Connections/oauth/Colour: unknown field (allowed: AuthorizationType, AuthParameters,"
        " Description)",
        "/Connections/oauth/AuthParameters/OAuthParameters/AuthorizationEndpoint: must be an"
        " http(s) URL",
        "/Connections/oauth/AuthParameters/OAuthParameters/HttpMethod: must be one of GET,"
        " POST, PUT",
        "/Connections/oauth/AuthParameters/OAuthParameters/ClientParameters/ClientSecret: must"
        ' be a string or {"Env": "VARIABLE"}',
        "/Connections/oauth/AuthParameters/OAuthParameters/OAuthHttpParameters/HeaderParameters"
        '/0/Value: must be a string or {"Env": "VARIABLE"}',
        "/Connections/oauth/AuthParameters/OAuthParameters/OAuthHttpParameters/HeaderParameters"
        "/0/Key: not a valid header name",
    ]
    assert parsed["ok"] == Connection(
        "ok", "BASIC", {"BasicAuthParameters": {"Username": "u", "Password": "p"}}
    )
    assert "p'" not in repr(parsed["ok"]) and "Password" not in repr(parsed["ok"])


def test_parse_connections_needs_an_object() -> None:
    problems: list[str] = []
    assert parse_connections([], "/Connections", problems) == {}
    assert problems == ["/Connections: must be an object of connections by name"]
