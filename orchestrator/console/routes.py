"""The console's HTTP side: its page and assets, the JSON it reads, and the live stream.

``GET /`` is the page (one HTML file, one script, one stylesheet, all in the package). The
page reads ``/console/api/...``: state machines (with each definition laid out as a graph),
a page of executions (keyset paging over the store, filtered by machine, status, name prefix
and start time), one execution (its description, definition, layout and each state's status
and steps), its raw history in pages, and ``/console/api/stream`` (server-sent events: one
message each time the execution's history grows, woken by the engine's commits, with a
comment line every :data:`HEARTBEAT_SECONDS` so proxies keep it open). Starting and stopping
an execution go through the API's own actions, so they are validated as StartExecution and
StopExecution are.

When the API checks signatures, the console needs a token (``SFN_CONSOLE_TOKEN``): opened
once as ``/?token=...`` it is kept in an HTTP-only cookie; without a configured token the
console answers 403 and says why. Every value it takes is bounded (page sizes, the history
slice, the input of a start).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from broker.topology import FUNCTION_QUEUE_PREFIX
from orchestrator.api.actions import StepFunctionsApi
from orchestrator.api.errors import ApiError
from orchestrator.asl.definition import StateMachine
from orchestrator.console.layout import layout
from orchestrator.console.live import Changes
from orchestrator.console.progress import progress
from orchestrator.console.stages import data_flow

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
COOKIE = "sfn_console"
MAX_PAGE = 200
MAX_HISTORY_PAGE = 1000
HEARTBEAT_SECONDS = 15.0
# A stream sends at most one message this often, however fast the execution moves.
STREAM_INTERVAL = 0.2
# The longest a stream stays open; the browser's EventSource reconnects by itself.
STREAM_SECONDS = 300.0
MAX_START_BYTES = 256 * 1024 + 4096
# Steps whose data-flow stages are computed (the table shows at most 2,000 rows anyway).
MAX_STAGED_STEPS = 5000

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Console:
    """What the console serves from: the API (store, engine, actions) and the change feed.

    ``protected``: the API checks signatures, so the console needs ``token``.
    """

    api: StepFunctionsApi
    changes: Changes
    protected: bool = False
    token: str | None = None
    # The broker's last sample of each queue: (ready, consumers, epoch seconds).
    queue_samples: Callable[[], dict[str, tuple[int, int, float]]] = dict


def console_routes(console: Console) -> list[Route]:
    """The console's routes, to mount beside the API's."""
    api, store = console.api, console.api.store

    def guarded(handler: Handler) -> Handler:
        async def guard(request: Request) -> Response:
            refusal = _refusal(console, request)
            if refusal is not None:
                return refusal
            try:
                return await handler(request)
            except ApiError as error:
                return JSONResponse({"error": error.type, "message": error.message}, error.status)
            except _BadRequest as error:
                return JSONResponse({"error": "BadRequest", "message": str(error)}, 400)
            except Exception:
                log.exception("the console failed on %s", request.url.path)
                return JSONResponse({"error": "InternalFailure", "message": "see the log"}, 500)

        return guard

    async def page(request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None and console.token and _same(token, console.token):
            answer = RedirectResponse("/", status_code=303)
            answer.set_cookie(COOKIE, console.token, httponly=True, samesite="strict")
            return answer
        refusal = _refusal(console, request)
        if refusal is not None:
            return refusal
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return Response("not found", 404)
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    async def state_machines(request: Request) -> Response:
        records = [r for r in store.state_machines() if r.name in api.engine.machines]
        machines = []
        for record in sorted(records, key=lambda r: r.name):
            machine = api.engine.machines[record.name]
            machines.append(
                {
                    "name": record.name,
                    "arn": api.account.state_machine_arn(record.name),
                    "type": machine.type,
                    "created": record.created,
                }
            )
        return JSONResponse({"stateMachines": machines})

    async def state_machine(request: Request) -> Response:
        name = _required(request, "name")
        described = await api.call(
            "DescribeStateMachine", {"stateMachineArn": api.account.state_machine_arn(name)}
        )
        definition = described["definition"]
        return JSONResponse(
            {
                "name": name,
                "arn": described["stateMachineArn"],
                "type": described.get("type", "STANDARD"),
                "definition": definition,
                "layout": await asyncio.to_thread(_layout, definition),
            }
        )

    async def executions(request: Request) -> Response:
        cursor_text = _text(request, "cursor")
        cursor = _cursor(cursor_text) if cursor_text else None
        limit = _integer(request, "limit", 50, 1, MAX_PAGE)
        found, following = store.execution_page(
            state_machine=_text(request, "stateMachine"),
            status=_text(request, "status"),
            map_run=_text(request, "mapRun"),
            name_prefix=_text(request, "name"),
            started_after=_time(request, "after"),
            started_before=_time(request, "before"),
            cursor=cursor,
            limit=limit,
        )
        return JSONResponse(
            {
                "executions": [
                    {
                        "executionArn": e.execution_arn,
                        "stateMachine": e.state_machine_arn.rpartition(":")[2],
                        "name": e.name,
                        "status": e.status,
                        "startDate": e.start_time.isoformat(),
                        "stopDate": e.stop_time.isoformat() if e.stop_time else None,
                    }
                    for e in found
                ],
                "cursor": f"{following[0]}|{following[1]}" if following else None,
            }
        )

    async def execution(request: Request) -> Response:
        arn = _required(request, "arn")
        described = await api.call("DescribeExecution", {"executionArn": arn})
        machine = await api.call("DescribeStateMachineForExecution", {"executionArn": arn})
        history = store.history(arn)
        definition = machine["definition"]
        record = store.execution_by_arn(arn)
        # The compiled definition the engine runs it with (its cache, read on this thread).
        compiled = api.engine.machine_for(record) if record is not None else None
        drawn, read = await asyncio.gather(
            asyncio.to_thread(_layout, definition),
            asyncio.to_thread(_progress, compiled, history),
        )
        return JSONResponse(
            {
                "execution": _jsonable(described),
                "definition": definition,
                "layout": drawn,
                "progress": read,
                "lastEventId": history[-1]["id"] if history else 0,
                "mapRuns": await _map_runs(arn),
                "parent": _parent(described),
            }
        )

    async def _map_runs(arn: str) -> list[dict[str, Any]]:
        """The Distributed Map runs the execution started (the newest first, at most 20),
        each with its counts of children."""
        runs = (await api.call("ListMapRuns", {"executionArn": arn, "maxResults": 20}))["mapRuns"]
        return [
            _jsonable(await api.call("DescribeMapRun", {"mapRunArn": run["mapRunArn"]}))
            for run in runs
        ]

    def _parent(described: dict[str, Any]) -> dict[str, Any] | None:
        """A Distributed Map child's Map Run and the execution that started it."""
        map_run = described.get("mapRunArn")
        found = store.map_run(map_run) if isinstance(map_run, str) else None
        if found is None:
            return None
        return {"mapRunArn": found.arn, "executionArn": found.execution_arn}

    async def history(request: Request) -> Response:
        arn = _required(request, "arn")
        await api.call("DescribeExecution", {"executionArn": arn})  # it exists: or 400
        first = _integer(request, "from", 1, 1, 10**9)
        limit = _integer(request, "limit", 100, 1, MAX_HISTORY_PAGE)
        events = store.history(arn, first, limit + 1)  # one more says whether a page follows
        chosen = events[:limit]
        following = chosen[-1]["id"] + 1 if len(events) > limit else None
        total = store.last_event_id(arn)
        return JSONResponse({"events": chosen, "next": following, "total": total})

    async def stream(request: Request) -> Response:
        arn = _required(request, "arn")
        await api.call("DescribeExecution", {"executionArn": arn})
        return StreamingResponse(
            _changes(console, request, arn), media_type="text/event-stream", headers=_NO_CACHE
        )

    async def start(request: Request) -> Response:
        body = await _json_body(request)
        name = body.get("stateMachine")
        if not isinstance(name, str) or not name:
            raise _BadRequest("stateMachine: the state machine's name is needed")
        text = body.get("input", "{}")
        if not isinstance(text, str):
            raise _BadRequest("input: the execution input as JSON text")
        try:
            json.loads(text)
        except ValueError as error:
            raise _BadRequest(f"input is not JSON: {error}") from None
        params: dict[str, Any] = {
            "stateMachineArn": api.account.state_machine_arn(name),
            "input": text,
        }
        if isinstance(body.get("name"), str) and body["name"]:
            params["name"] = body["name"]
        started = await api.call("StartExecution", params)
        return JSONResponse({"executionArn": started["executionArn"]})

    async def redrive(request: Request) -> Response:
        body = await _json_body(request)
        arn = body.get("executionArn")
        if not isinstance(arn, str):
            raise _BadRequest("executionArn is needed")
        answer = await api.call("RedriveExecution", {"executionArn": arn})
        return JSONResponse({"redriven": arn, "redriveDate": answer.get("redriveDate")})

    async def stop(request: Request) -> Response:
        body = await _json_body(request)
        arn = body.get("executionArn")
        if not isinstance(arn, str):
            raise _BadRequest("executionArn is needed")
        await api.call("StopExecution", {"executionArn": arn, "cause": "Stopped from the console"})
        return JSONResponse({"stopped": arn})

    async def queues(request: Request) -> Response:
        samples = console.queue_samples()
        in_flight = api.engine.in_flight()
        unserved = store.unserved()
        rows = []
        for queue in sorted(set(samples) | {_queue_of(f) for f in in_flight if f}):
            ready, consumers, sampled = samples.get(queue, (None, None, None))
            function = queue.removeprefix(FUNCTION_QUEUE_PREFIX)
            tasks, oldest, beat = in_flight.get(function, in_flight.get(queue, (0, 0.0, None)))
            rows.append(
                {
                    "queue": queue,
                    "function": function if queue.startswith(FUNCTION_QUEUE_PREFIX) else None,
                    "ready": ready,
                    "consumers": consumers,
                    "sampled": sampled,
                    "inFlight": tasks,
                    "oldestSeconds": round(oldest, 3),
                    "heartbeatSeconds": round(beat, 3) if beat is not None else None,
                    "unservedSince": unserved.get(function),
                }
            )
        return JSONResponse({"queues": rows})

    return [
        Route("/", page, methods=["GET"]),
        Route("/console/api/queues", guarded(queues), methods=["GET"]),
        Route("/console/assets/{name}", asset, methods=["GET"]),
        Route("/console/api/state-machines", guarded(state_machines), methods=["GET"]),
        Route("/console/api/state-machine", guarded(state_machine), methods=["GET"]),
        Route("/console/api/executions", guarded(executions), methods=["GET"]),
        Route("/console/api/execution", guarded(execution), methods=["GET"]),
        Route("/console/api/history", guarded(history), methods=["GET"]),
        Route("/console/api/stream", guarded(stream), methods=["GET"]),
        Route("/console/api/start", guarded(start), methods=["POST"]),
        Route("/console/api/stop", guarded(stop), methods=["POST"]),
        Route("/console/api/redrive", guarded(redrive), methods=["POST"]),
    ]


_NO_CACHE = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


class _BadRequest(Exception):
    """A console request with a missing or malformed parameter."""


def _queue_of(function: str) -> str:
    """The queue a task for ``function`` goes to (a function's, unless it names a queue)."""
    return function if "." in function else FUNCTION_QUEUE_PREFIX + function


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _refusal(console: Console, request: Request) -> Response | None:
    """None when the request may see the console; else the 403 that says why."""
    if not console.protected:
        return None
    if not console.token:
        return JSONResponse(
            {
                "error": "AccessDenied",
                "message": "the API checks signatures, so the console needs SFN_CONSOLE_TOKEN",
            },
            403,
        )
    cookie = request.cookies.get(COOKIE, "")
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if _same(cookie, console.token) or (
        scheme.lower() == "bearer" and _same(bearer.strip(), console.token)
    ):
        return None
    return JSONResponse(
        {"error": "AccessDenied", "message": "open the console as /?token=<SFN_CONSOLE_TOKEN>"},
        403,
    )


def _text(request: Request, key: str) -> str | None:
    """An optional query parameter (empty is absent), bounded."""
    value = request.query_params.get(key) or None
    if value is not None and len(value) > 2048:
        raise _BadRequest(f"{key} is too long")
    return value


def _required(request: Request, key: str) -> str:
    value = _text(request, key)
    if value is None:
        raise _BadRequest(f"{key} is needed")
    return value


def _integer(request: Request, key: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(key)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _BadRequest(f"{key} must be an integer") from None
    return max(low, min(number, high))


def _time(request: Request, key: str) -> datetime | None:
    value = _text(request, key)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequest(f"{key} must be an ISO-8601 time") from None


def _cursor(text: str) -> tuple[str, int]:
    start, _, key = text.rpartition("|")
    try:
        return start, int(key)
    except ValueError:
        raise _BadRequest("cursor is not one this console gave") from None


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_START_BYTES:
        raise _BadRequest("the request is too large")
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise _BadRequest("the request is not JSON") from None
    if not isinstance(value, dict):
        raise _BadRequest("the request must be a JSON object")
    return value


def _jsonable(value: Any) -> Any:
    """An API answer made JSON: datetimes as ISO text."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _progress(machine: StateMachine | None, history: list[dict[str, Any]]) -> dict[str, Any]:
    """Each state's status and steps, each step with its data flow's stages."""
    read = progress(history)
    for step in read["steps"][:MAX_STAGED_STEPS]:
        step["stages"] = data_flow(machine, step) if machine is not None else []
    return read


@functools.lru_cache(maxsize=64)
def _layout(definition: str) -> dict[str, Any]:
    """A definition's graph (a definition's text never changes, so neither does its
    layout)."""
    return layout(json.loads(definition))


async def _changes(console: Console, request: Request, arn: str) -> Any:
    """Server-sent events for one execution: ``data: {"lastEventId": n}`` each time its
    history grows, a comment line as a heartbeat, until the client leaves."""
    store, changes = console.api.store, console.changes
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_SECONDS
    seen = changes.version
    last = store.last_event_id(arn)
    yield f"retry: 1000\ndata: {json.dumps({'lastEventId': last})}\n\n"
    while loop.time() < deadline and not await request.is_disconnected():
        version = await changes.wait(seen, HEARTBEAT_SECONDS)
        if version == seen:
            yield ": heartbeat\n\n"
            continue
        if not changes.changed_since(arn, seen):
            seen = version  # another execution changed
            continue
        seen = version
        now = store.last_event_id(arn)
        if now != last:
            last = now
            yield f"data: {json.dumps({'lastEventId': last})}\n\n"
            await asyncio.sleep(STREAM_INTERVAL)
