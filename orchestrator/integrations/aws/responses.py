"""A botocore response as the result Step Functions hands the state machine.

Both kinds of integration name the response's members in PascalCase (botocore's model
spells some in camelCase: ECS ``tasks``) and leave map keys (DynamoDB attribute names, S3
metadata) as they are. They differ where their SDKs differ (see the recorded calls):

- optimized integrations (SDK v1 results written by Jackson): members and map keys in
  alphabetical order, timestamps as epoch milliseconds, and ``SdkHttpMetadata`` /
  ``SdkResponseMetadata`` built from the HTTP response (not for EventBridge);
- AWS SDK integrations (SDK v2): the response without any HTTP metadata, timestamps as
  ISO-8601 instants in UTC (``2024-05-01T10:00:00.123Z``, Java's ``Instant.toString``).

A streamed body (S3 ``Body``, Lambda ``Payload``) is its text; other binary values are
base64 text, as the services' JSON protocols carry them.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.model import Shape
from botocore.response import StreamingBody

from messages.limits import MAX_PAYLOAD_BYTES

# Where keep_raw_headers leaves the response's headers, with their case and order.
_RAW_HEADERS = "StatesRawHeaders"
# A body longer than a task result may be is never read whole: the caller refuses the result.
_MAX_BODY_BYTES = MAX_PAYLOAD_BYTES + 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def keep_raw_headers(http_response: AWSResponse, parsed: dict[str, Any], **_: Any) -> None:
    """botocore ``after-call`` handler: keep the headers as the server spelled them.

    botocore's ResponseMetadata lower-cases header names; SdkHttpMetadata shows them as
    sent (``x-amzn-RequestId``, ``Content-Type``).
    """
    metadata = parsed.setdefault("ResponseMetadata", {})
    metadata[_RAW_HEADERS] = list(http_response.headers.items())


def sdk_result(response: dict[str, Any], shape: Shape | None) -> Any:
    """An AWS SDK integration's result: the API response, without ResponseMetadata."""
    if shape is None:
        return {}
    return _render(_without_metadata(response), shape, _iso_instant, ordered=False)


def optimized_result(response: dict[str, Any], shape: Shape | None, http_metadata: bool) -> Any:
    """An optimized integration's result, with the HTTP metadata when ``http_metadata``."""
    result = (
        {}
        if shape is None
        else _render(_without_metadata(response), shape, _epoch_millis, ordered=True)
    )
    if http_metadata:
        result.update(sdk_metadata(response.get("ResponseMetadata", {})))
        result = dict(sorted(result.items()))
    return result


def sdk_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """``SdkHttpMetadata`` and ``SdkResponseMetadata`` for botocore's ResponseMetadata."""
    headers = metadata.get(_RAW_HEADERS)
    if headers is None:
        headers = list(metadata.get("HTTPHeaders", {}).items())
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers},
            # SDK v1 keeps these in a case-insensitive TreeMap.
            "HttpHeaders": dict(sorted(headers, key=lambda header: header[0].lower())),
            "HttpStatusCode": metadata.get("HTTPStatusCode"),
        },
        "SdkResponseMetadata": {"RequestId": metadata.get("RequestId")},
    }


def _without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def _render(value: Any, shape: Shape, instant: Any, ordered: bool) -> Any:
    kind = shape.type_name
    if shape.metadata.get("document"):
        return value  # free-form JSON, returned as the service gave it
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        # Keys outside the model are botocore's additions (S3's ExpiresString): not AWS's.
        rendered = {
            name[:1].upper() + name[1:]: _render(value[name], member, instant, ordered)
            for name, member in members.items()
            if name in value
        }
        return dict(sorted(rendered.items())) if ordered else rendered
    if kind == "list" and isinstance(value, list):
        member = shape.member
        return [_render(item, member, instant, ordered) for item in value]
    if kind == "map" and isinstance(value, dict):
        target = shape.value
        items = sorted(value.items()) if ordered else value.items()
        return {key: _render(item, target, instant, ordered) for key, item in items}
    if isinstance(value, StreamingBody):
        return _read_text(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return instant(value)
    return value


def _read_text(body: StreamingBody) -> str:
    try:
        data: bytes = body.read(_MAX_BODY_BYTES)
        return data.decode("utf-8", errors="replace")
    finally:
        body.close()


def _epoch_millis(moment: datetime) -> int:
    """Java's ``Date`` as Jackson writes it: milliseconds since the epoch."""
    return (_aware(moment) - _EPOCH) // timedelta(milliseconds=1)


def _iso_instant(moment: datetime) -> str:
    """``Instant.toString``: UTC, the fraction only when not zero, in groups of 3 digits."""
    moment = _aware(moment).astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    micros = moment.microsecond
    if micros % 1000 == 0 and micros:
        text += f".{micros // 1000:03d}"
    elif micros:
        text += f".{micros:06d}"
    return text + "Z"


def _aware(moment: datetime) -> datetime:
    # botocore's parsers give aware datetimes; a naive one would be UTC by AWS's convention.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
