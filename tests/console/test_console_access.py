"""The console's access control and its answers to bad requests, on a real orchestrator.

With SFN_ACCESS_KEY_ID/SFN_SECRET_ACCESS_KEY set the API checks signatures; the console then
needs SFN_CONSOLE_TOKEN (opened once as ``/?token=``, kept in a cookie, or sent as a bearer
token) and refuses everything else with a 403 that says what to do.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.test_console_browser import free_port
from tests.processes import Service, start_orchestrator

pytestmark = pytest.mark.integration
TOKEN = "console-secret-7"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> Any:
    """(status, headers, body text) of a request, whatever its status."""
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with OPENER.open(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def serve(amqp_url: str, tmp: Path, **settings: str) -> tuple[Service, str]:
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env.pop("SFN_CONSOLE_TOKEN", None)
    env.update(settings)
    port = free_port()
    return start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port), f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def protected(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("console-access")
    service, base = serve(
        amqp_url,
        tmp,
        SFN_ACCESS_KEY_ID="AKIDCONSOLE",
        SFN_SECRET_ACCESS_KEY="secret",
        SFN_CONSOLE_TOKEN=TOKEN,
    )
    try:
        yield base
    finally:
        service.stop()


def test_the_console_needs_its_token_when_the_api_checks_signatures(protected: str) -> None:
    status, _, body = fetch(protected + "/")
    assert status == 403 and "token" in json.loads(body)["message"]
    assert fetch(protected + "/?token=wrong")[0] == 403
    status, headers, _ = fetch(protected + f"/?token={TOKEN}")
    assert status == 303
    cookie = headers["set-cookie"]
    assert "httponly" in cookie.lower()
    status, _, page = fetch(protected + "/", {"Cookie": cookie.split(";")[0]})
    assert status == 200 and "/console/assets/app.js" in page
    assert fetch(protected + "/console/api/state-machines")[0] == 403
    status, _, body = fetch(
        protected + "/console/api/state-machines", {"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200
    assert "CallCenterStateMachine" in [m["name"] for m in json.loads(body)["stateMachines"]]
    # The API itself still wants signatures, token or not.
    status, _, body = fetch(
        protected + "/",
        {"X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Authorization": f"Bearer {TOKEN}"},
        b"{}",
    )
    assert status == 403


def test_bad_console_requests_are_refused_with_what_is_wrong(protected: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    status, _, body = fetch(protected + "/console/api/execution", auth)
    assert (status, json.loads(body)["message"]) == (400, "arn is needed")
    status, _, body = fetch(protected + "/console/api/executions?cursor=nonsense", auth)
    assert status == 400 and "cursor" in json.loads(body)["message"]
    start = json.dumps({"stateMachine": "CallCenterStateMachine", "input": "{oops"}).encode()
    status, _, body = fetch(protected + "/console/api/start", auth, start)
    assert status == 400 and json.loads(body)["message"].startswith("input is not JSON")
    missing = "arn:aws:states:us-east-1:123456789012:execution:CallCenterStateMachine:nope"
    status, _, body = fetch(protected + f"/console/api/execution?arn={missing}", auth)
    assert status == 400 and json.loads(body)["error"] == "ExecutionDoesNotExist"
    assert fetch(protected + "/console/assets/../../setup.py", auth)[0] == 404
    # Hostile sizes: a query value past 2 KiB, a body past the largest input, huge pages.
    status, _, body = fetch(protected + "/console/api/executions?name=" + "n" * 5000, auth)
    assert (status, json.loads(body)["message"]) == (400, "name is too long")
    huge = json.dumps({"stateMachine": "CallCenterStateMachine", "input": "x" * 300_000})
    status, _, body = fetch(protected + "/console/api/start", auth, huge.encode())
    assert (status, json.loads(body)["message"]) == (400, "the request is too large")
    status, _, body = fetch(protected + "/console/api/executions?limit=999999999", auth)
    assert status == 200  # held to the largest page
    status, _, body = fetch(protected + "/console/api/start", auth, b"[1, 2]")
    assert (status, json.loads(body)["message"]) == (400, "the request must be a JSON object")


def test_without_a_token_a_protected_console_says_how_to_open_it(
    amqp_url: str, tmp_path: Path
) -> None:
    service, base = serve(
        amqp_url, tmp_path, SFN_ACCESS_KEY_ID="AKIDCONSOLE", SFN_SECRET_ACCESS_KEY="secret"
    )
    try:
        status, _, body = fetch(base + "/")
        assert status == 403
        assert "SFN_CONSOLE_TOKEN" in json.loads(body)["message"]
    finally:
        service.stop()
