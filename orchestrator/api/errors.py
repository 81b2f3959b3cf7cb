"""The API's error: AWS's error type, a message and an HTTP status, as the client receives them.

Every refusal the API makes is one of these, served as ``{"__type", "message"}`` with the
``x-amzn-ErrorType`` header, so boto3 and the AWS CLI raise their modeled exceptions.
"""

from __future__ import annotations

# AWS's answer for a fault of the service itself (HTTP 500), in its words.
INTERNAL_FAILURE = "InternalFailure"
INTERNAL_FAILURE_MESSAGE = (
    "The request processing has failed because of an unknown error, exception or failure."
)


class ApiError(Exception):
    """An error as the API returns it: AWS's error type, a message, an HTTP status."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(f"{error_type}: {message}")
        self.type = error_type
        self.message = message
        self.status = status
