"""A Task's rendered Parameters as the botocore request of the API they are for.

Parameters name the API's members in PascalCase; botocore's model spells some in camelCase
(ECS ``cluster``, SFN ``taskToken``), so names are matched to the model's without regard to
case. Values are shaped as Step Functions sends them (checked against the recorded calls):

- ``null`` is an absent member, as in the Java SDKs: the service, not the client, says
  that a required one is missing (``The request must contain the parameter MessageBody.``);
- a JSON value given for a string member (SQS ``MessageBody``, SNS ``Message``, EventBridge
  ``Detail``, SFN ``Input``) is sent as its JSON text, compact, keys in order;
- the blob that is the request's body (S3 ``Body``, Lambda ``Payload``): an optimized
  integration sends a string as is and any other value as JSON text (the recorded
  ``lambda:invoke`` whose Payload was a string holding JSON text sent that text); an AWS
  SDK integration sends the JSON text of every value, strings included (the recorded
  ``putObject`` of ``"text data"`` stored the 11 bytes ``"text data"``, quotes and all);
- any other blob (DynamoDB ``B``, SQS ``BinaryValue``) is base64 text in JSON, as the
  services' own JSON documents carry it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from botocore.model import Shape
from botocore.validate import ParamValidator

from orchestrator.asl.intrinsics.java import to_json

# botocore's report of a required member left out: the service answers for those itself.
_MISSING = "missing required field"


class InvalidParameters(ValueError):
    """Parameters the API cannot take: not an object, an unknown member, a wrong type."""


def request_parameters(parameters: Any, shape: Shape | None, *, optimized: bool) -> dict[str, Any]:
    """The botocore parameters for ``parameters`` under the operation's input ``shape``.

    Raises InvalidParameters for what botocore would refuse before sending (an unknown
    member, a value of the wrong type); a missing required member is left to the service.
    """
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise InvalidParameters(
            f"The parameters must be a JSON object, not {type(parameters).__name__}"
        )
    if shape is None:
        if parameters:
            raise InvalidParameters("The API takes no parameters")
        return {}
    converted: dict[str, Any] = _convert(parameters, shape, optimized)
    _check(converted, shape)
    return converted


def add_event_resources(parameters: dict[str, Any], arns: list[str]) -> None:
    """Append ``arns`` (the state machine's and the execution's) to each PutEvents entry's
    Resources, as the optimized EventBridge integration does."""
    for entry in parameters.get("Entries") or []:
        if isinstance(entry, dict):
            resources = entry.get("Resources")
            entry["Resources"] = [*(resources if isinstance(resources, list) else []), *arns]


def _convert(value: Any, shape: Shape, optimized: bool, body: bool = False) -> Any:
    kind = shape.type_name
    if shape.metadata.get("document"):
        return value  # free-form JSON (Bedrock's inputs): sent as given
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        by_lower = {name.lower(): name for name in members}
        payload = shape.serialization.get("payload")
        converted: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            name = key if key in members else by_lower.get(key.lower())
            # An unknown member stays as given: botocore's check names it with the valid ones.
            converted[name or key] = (
                _convert(item, members[name], optimized, name == payload) if name else item
            )
        return converted
    if kind == "list" and isinstance(value, list):
        return [_convert(item, shape.member, optimized) for item in value]
    if kind == "map" and isinstance(value, dict):
        target = shape.value
        return {
            key: _convert(item, target, optimized)
            for key, item in value.items()
            if item is not None
        }
    if kind == "string" and not isinstance(value, str):
        return to_json(value)
    if kind == "blob":
        return _blob(value, optimized, body)
    return value


def _blob(value: Any, optimized: bool, body: bool) -> bytes:
    if body:
        if optimized and isinstance(value, str):
            return value.encode()
        return to_json(value).encode()
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise InvalidParameters(f"{value[:40]!r} is not base64 text of binary data") from None
    return to_json(value).encode()


def _check(parameters: dict[str, Any], shape: Shape) -> None:
    report = ParamValidator().validate(parameters, shape)
    # ValidationErrors keeps its findings as (kind, member path, details) tuples.
    problems = [error for error in report._errors if error[0] != _MISSING]
    if problems:
        report._errors = problems
        raise InvalidParameters(report.generate_report())
