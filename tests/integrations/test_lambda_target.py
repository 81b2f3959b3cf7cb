"""The lambda target: Task calls to real Lambda functions through botocore, as Step Functions
Local's LAMBDA_ENDPOINT does (here a local endpoint speaking Lambda's Invoke API, as
``sam local start-lambda`` does)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import botocore.session
import pytest

from orchestrator.asl.loader import load_definition
from orchestrator.integrations.aws.call import AwsCaller
from orchestrator.integrations.routing import Routing
from orchestrator.integrations.targets import Targets
from orchestrator.local_runner import FakeClock, run_local

_PATH = "/2015-03-31/functions/"


class _Lambda(http.server.BaseHTTPRequestHandler):
    """Lambda's Invoke API for two functions: Double ({"n"} -> {"n": 2n}) and Refuse (raises)."""

    def do_POST(self) -> None:
        name = unquote(self.path.removeprefix(_PATH).split("/")[0]).rsplit(":", 1)[-1]
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"null")
        headers = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
        if name == "Double":
            body, status = {"n": event["n"] * 2}, 200
        elif name == "Refuse":
            body, status = {"errorMessage": "no", "errorType": "Refused", "stackTrace": []}, 200
            headers["X-Amz-Function-Error"] = "Unhandled"
        else:
            body, status = {"Type": "User", "message": f"Function not found: {name}"}, 404
            headers["x-amzn-ErrorType"] = "ResourceNotFoundException"
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Lambda)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    routing = Routing.parse(
        json.dumps(
            {
                "Routes": [
                    {"Resource": "lambda:invoke*", "Target": "lambda", "EndpointUrl": url},
                    {"Resource": "*", "Target": "lambda", "EndpointUrl": url},
                ]
            }
        )
    )
    session = botocore.session.Session()
    session.set_credentials("x", "y")
    try:
        yield Targets(routing, aws=lambda endpoint: AwsCaller(session, endpoint))
    finally:
        server.shutdown()


def _run(targets: Targets, states: dict[str, Any], data: Any) -> Any:
    machine = load_definition(
        json.dumps({"StartAt": next(iter(states)), "States": states}), name="M"
    )
    return run_local(machine, data, {}, clock=FakeClock(), caller=targets.call)


def test_a_function_arn_task_gets_the_functions_result(targets: Targets) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Double"
    result = _run(targets, {"T": {"Type": "Task", "Resource": arn, "End": True}}, {"n": 4})
    assert (result.state.status, result.state.output) == ("SUCCEEDED", {"n": 8})
    assert [e.type for e in result.history][2:5] == [
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
    ]


def test_lambda_invoke_gets_invokes_response(targets: Targets) -> None:
    states = {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "Double", "Payload.$": "$"},
            "End": True,
        }
    }
    result = _run(targets, states, {"n": 5})
    assert result.state.status == "SUCCEEDED"
    output = result.state.output
    assert output["Payload"] == {"n": 10}
    assert (output["StatusCode"], output["ExecutedVersion"]) == (200, "$LATEST")
    assert "SdkHttpMetadata" in output


def test_a_function_error_is_caught_by_its_type(targets: Targets) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Refuse"
    states = {
        "T": {
            "Type": "Task",
            "Resource": arn,
            "Catch": [{"ErrorEquals": ["Refused"], "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    }
    result = _run(targets, states, {})
    assert result.state.status == "SUCCEEDED"
    assert result.state.output["Error"] == "Refused"
    assert json.loads(result.state.output["Cause"])["errorMessage"] == "no"


def test_a_missing_function_fails_as_on_aws(targets: Targets) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Nobody"
    result = _run(targets, {"T": {"Type": "Task", "Resource": arn, "End": True}}, {})
    assert (result.state.status, result.state.error) == (
        "FAILED",
        "Lambda.ResourceNotFoundException",
    )
