"""The call-center payloads of the AWS tutorial: what each of the five functions takes and returns.

Open Case takes ``{inputCaseID}`` and returns ``{Case, Message}``; Assign Case takes and returns
``{Case, Message}``; Work on Case adds ``Status`` (0 unresolved, 1 resolved); Close and Escalate
take and return ``{Case, Status, Message}``. Unknown fields are ignored on input, as the
tutorial's Node.js functions ignore them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="ignore", validate_by_name=True, serialize_by_alias=True
    )


class OpenCaseInput(_Payload):
    """The execution input: the case to open."""

    input_case_id: str = Field(alias="inputCaseID", min_length=1)


class CaseMessage(_Payload):
    """A case and its running status message."""

    case: str = Field(alias="Case")
    message: str = Field(alias="Message")


class CaseStatus(_Payload):
    """A case, whether it was resolved (1) or not (0), and its status message."""

    case: str = Field(alias="Case")
    status: Literal[0, 1] = Field(alias="Status")
    message: str = Field(alias="Message")
