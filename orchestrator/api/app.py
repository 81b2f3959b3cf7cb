"""The HTTP side of the API: AWS JSON 1.0 on ``POST /``, Prometheus metrics on ``GET /metrics``,
and the web console (:mod:`orchestrator.console`) on ``GET /``.

Starlette does the HTTP; this module maps requests to actions and errors to AWS's error
shape (``{"__type", "message"}``), checking SigV4 signatures when credentials are configured.
What it reads is bounded before anything else happens: a body over :data:`MAX_REQUEST_BYTES`
is refused from its ``Content-Length``, or as soon as a streamed body passes it, without
reading the rest; JSON nested too deep is refused before it is parsed into anything. A fault
of ours is a clean ``InternalFailure`` (HTTP 500) and a log line, never a traceback.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from messages import limits
from orchestrator import metrics
from orchestrator.api.actions import StepFunctionsApi
from orchestrator.api.activities import client_gone
from orchestrator.api.errors import INTERNAL_FAILURE, INTERNAL_FAILURE_MESSAGE, ApiError
from orchestrator.api.regions import in_region, request_region
from orchestrator.api.sigv4 import AuthFailure, Credentials, verify
from orchestrator.console.routes import Console, console_routes

log = logging.getLogger(__name__)
JSON_1_0 = "application/x-amz-json-1.0"
TARGET_PREFIX = "AWSStepFunctions."
# AWS takes at most 1 MB per request, headers included; its largest member is a definition
# (1 MiB). The cap leaves room for the envelope around a definition of that size.
MAX_REQUEST_BYTES = limits.MAX_DEFINITION_BYTES + 64 * 1024


def _error(error_type: str, message: str, status: int, *, close: bool = False) -> Response:
    body = json.dumps({"__type": error_type, "message": message})
    headers = {"x-amzn-ErrorType": error_type}
    if close:  # the rest of the body is not read: the connection cannot carry another request
        headers["Connection"] = "close"
    return Response(body, status_code=status, media_type=JSON_1_0, headers=headers)


def _too_large(size: str, cap: int) -> Response:
    return _error(
        "RequestEntityTooLargeException",
        f"The request body is {size} bytes, over the maximum request size of {cap} bytes",
        413,
        close=True,
    )


async def _read_body(request: Request, cap: int) -> bytes | Response:
    """The whole body, or the 413 answer as soon as it is known to exceed ``cap`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        return _too_large(declared, cap)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > cap:
            return _too_large(f"more than {cap}", cap)
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    api: StepFunctionsApi,
    credentials: Credentials | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    *,
    metrics_token: str | None = None,
    metrics_public: bool = False,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    console: Console | None = None,
) -> Starlette:
    """The ASGI app.

    With ``credentials``, every API request must be signed for them (scoped to the
    ``states`` service, in any region: :mod:`.regions`), and ``GET /metrics`` too (scoped to
    the account's region): either signed
    the same way or carrying ``Authorization: Bearer <metrics_token>``, unless
    ``metrics_public``. Without ``credentials``, everything is open.
    """
    region = api.account.region

    def check_signature(request: Request, body: bytes, *, any_region: bool = False) -> None:
        assert credentials is not None
        verify(
            request.method,
            request.url.path,
            request.url.query,
            dict(request.headers),
            body,
            credentials,
            now(),
            # A request may be signed for any region: its ARNs are given in that region.
            region=None if any_region else region,
        )

    async def aws(request: Request) -> Response:
        try:
            body = await _read_body(request, max_request_bytes)
        except ClientDisconnect:  # the client left (or sent its body too slowly)
            return Response(status_code=400)
        if isinstance(body, Response):
            return body
        if credentials is not None:
            try:
                check_signature(request, body, any_region=True)
            except AuthFailure as failure:
                return _error(failure.code, failure.message, 403)
        signed_for = request_region(request.headers, region)
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(TARGET_PREFIX):
            return _error("UnknownOperationException", f"Unknown operation {target!r}", 400)
        action = target.removeprefix(TARGET_PREFIX)
        client_gone.set(request.is_disconnected)  # a long poll stops for a client that left
        try:
            params = in_region(_parse(body), signed_for, region)
            result = in_region(await api.call(action, params), region, signed_for)
            answer = json.dumps(result, allow_nan=False)
        except ApiError as error:
            return _error(error.type, error.message, error.status)
        except Exception:
            log.exception("the API action %s failed", action)
            return _error(INTERNAL_FAILURE, INTERNAL_FAILURE_MESSAGE, 500)
        return Response(answer, media_type=JSON_1_0)

    async def prometheus(request: Request) -> Response:
        if credentials is not None and not metrics_public:
            authorization = request.headers.get("authorization", "")
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer":
                if not metrics_token or not hmac.compare_digest(
                    token.strip().encode(), metrics_token.encode()
                ):
                    return _error(
                        "UnrecognizedClientException",
                        "The bearer token included in the request is invalid.",
                        403,
                    )
            else:
                try:
                    check_signature(request, b"")
                except AuthFailure as failure:
                    return _error(failure.code, failure.message, 403)
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def not_served(request: Request, exc: Exception) -> Response:
        # Another path or method: AWS's shape too, not Starlette's plain text.
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _error(
            "UnknownOperationException",
            f"{request.method} {request.url.path} is not an operation of this service",
            status,
        )

    routes = [Route("/", aws, methods=["POST"]), Route("/metrics", prometheus, methods=["GET"])]
    if console is not None:
        routes.extend(console_routes(console))
    return Starlette(
        routes=routes,
        exception_handlers={404: not_served, 405: not_served},
    )


def _parse(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object: ``SerializationException`` otherwise."""
    if not body:
        return {}
    try:
        params = limits.loads(body)
    except limits.JsonTooDeep as exc:
        raise ApiError("SerializationException", f"The request body is refused: {exc}") from None
    except ValueError as exc:
        raise ApiError("SerializationException", f"The request body is not JSON: {exc}") from None
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object")
    return params
