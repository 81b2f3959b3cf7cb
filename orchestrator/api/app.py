"""The HTTP side of the API: AWS JSON 1.0 on ``POST /``, Prometheus metrics on ``GET /metrics``.

Starlette does the HTTP; this module only maps requests to actions and errors to AWS's
error shape (HTTP 400/403, ``{"__type", "message"}``), checking SigV4 signatures when
credentials are configured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orchestrator import metrics
from orchestrator.api.actions import ApiError, StepFunctionsApi
from orchestrator.api.sigv4 import AuthFailure, Credentials, verify

JSON_1_0 = "application/x-amz-json-1.0"
TARGET_PREFIX = "AWSStepFunctions."


def _error(error_type: str, message: str, status: int) -> Response:
    body = json.dumps({"__type": error_type, "message": message})
    return Response(
        body, status_code=status, media_type=JSON_1_0, headers={"x-amzn-ErrorType": error_type}
    )


def create_app(
    api: StepFunctionsApi,
    credentials: Credentials | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    """The ASGI app. With ``credentials``, every API request must be signed for them."""

    async def aws(request: Request) -> Response:
        body = await request.body()
        if credentials is not None:
            try:
                verify(
                    request.method,
                    request.url.path,
                    request.url.query,
                    dict(request.headers),
                    body,
                    credentials,
                    now(),
                )
            except AuthFailure as failure:
                return _error(failure.code, failure.message, 403)
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(TARGET_PREFIX):
            return _error("UnknownOperationException", f"Unknown operation {target!r}", 400)
        try:
            params: Any = json.loads(body) if body else {}
        except ValueError:
            return _error("SerializationException", "The request body is not JSON", 400)
        if not isinstance(params, dict):
            return _error("SerializationException", "The request body must be a JSON object", 400)
        try:
            result = await api.call(target.removeprefix(TARGET_PREFIX), params)
        except ApiError as error:
            return _error(error.type, error.message, error.status)
        return Response(json.dumps(result), media_type=JSON_1_0)

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[Route("/", aws, methods=["POST"]), Route("/metrics", prometheus, methods=["GET"])]
    )
