"""How a Lambda function's failure becomes an ASL error, as Step Functions maps it.

Step Functions takes Lambda's ``errorType`` as the error name and the whole error payload,
as compact JSON text, as the cause.
"""

from __future__ import annotations

import json


def lambda_failure(
    error_type: str, error_message: str, stack_trace: list[str], request_id: str | None = None
) -> tuple[str, str]:
    """The (error, cause) pair Step Functions reports for a failed Lambda invocation."""
    payload: dict[str, object] = {"errorMessage": error_message, "errorType": error_type}
    if request_id is not None:
        payload["requestId"] = request_id
    payload["stackTrace"] = stack_trace
    return error_type, json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
