"""The response Step Functions' ``arn:aws:states:::lambda:invoke`` integration wraps results in.

AWS returns the Lambda Invoke API's response: the function's result as ``Payload``, plus the
HTTP metadata of the call. We build the same shape so that definitions reading
``$.Payload`` (or ``$.StatusCode``) work unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any


def invoke_response(payload: Any, request_id: str, now: datetime) -> dict[str, Any]:
    """The ``lambda:invoke`` result for a function that returned ``payload``."""
    # Lambda's Python runtime writes the result with json.dumps' default separators.
    length = str(len(json.dumps(payload).encode()))
    date = format_datetime(now.astimezone(UTC), usegmt=True)
    trace = f"Root=1-{request_id[:8]}-{request_id.replace('-', '')[:24]};Sampled=0"
    headers = {
        "Connection": "keep-alive",
        "Content-Length": length,
        "Content-Type": "application/json",
        "Date": date,
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
        "X-Amzn-Trace-Id": trace,
    }
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }
