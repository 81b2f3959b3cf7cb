"""The API in the test's own process: a real SQLite store, engine and broker channel.

For tests that call the ASGI app directly (fuzzing: thousands of requests in seconds) or
serve it with a real uvicorn server under limits of their choosing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
from starlette.applications import Starlette

from broker import Topology
from orchestrator.api.actions import StepFunctionsApi
from orchestrator.api.app import JSON_1_0, create_app
from orchestrator.api.sigv4 import Credentials
from orchestrator.arns import Account
from orchestrator.definitions import load_definitions
from orchestrator.engine import Engine
from orchestrator.service.publisher import OutboxPublisher
from orchestrator.store import SqliteStore

ACCOUNT = Account()
DEFINITIONS = {
    "FolderPass": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
    "FolderWait": {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}},
    },
}


@dataclass
class InProcessApi:
    """The pieces behind one in-process API."""

    api: StepFunctionsApi
    app: Starlette
    engine: Engine
    store: SqliteStore


@asynccontextmanager
async def in_process_api(
    amqp_url: str,
    tmp: Path,
    *,
    credentials: Credentials | None = None,
    sync_timeout: float = 2.0,
    **app_options: Any,
) -> AsyncIterator[InProcessApi]:
    """An API over a store in ``tmp`` and two folder machines (a Pass, a 10-minute Wait)."""
    folder = tmp / "definitions"
    folder.mkdir(parents=True, exist_ok=True)
    for name, definition in DEFINITIONS.items():
        (folder / f"{name}.asl.json").write_text(json.dumps(definition))
    store = SqliteStore(tmp / "sfn.db")
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        engine = Engine(load_definitions(folder), store, account=ACCOUNT)
        channel = await connection.channel(publisher_confirms=True)
        await Topology(channel).executions_exchange()
        api = StepFunctionsApi(
            engine, OutboxPublisher(store, channel), account=ACCOUNT, sync_timeout=sync_timeout
        )
        app = create_app(api, credentials, **app_options)
        yield InProcessApi(api, app, engine, store)
    finally:
        await connection.close()
        store.close()


@dataclass(frozen=True)
class Answer:
    """An HTTP response as the ASGI app produced it."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def asgi_call(
    app: Starlette,
    body: bytes,
    *,
    target: str | None = None,
    method: str = "POST",
    path: str = "/",
    headers: Sequence[tuple[str, str]] = (),
) -> Answer:
    """One HTTP request to ``app`` over ASGI, as uvicorn would hand it over."""
    sent: list[dict[str, Any]] = []
    raw_headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", JSON_1_0.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if target is not None:
        raw_headers.append((b"x-amz-target", f"AWSStepFunctions.{target}".encode()))
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8083),
    }
    delivered = False
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Answer(
        start["status"],
        {k.decode().lower(): v.decode() for k, v in start.get("headers", [])},
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    )
