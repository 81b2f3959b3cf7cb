"""An in-memory DynamoDB that answers ``dynamodb:putItem`` and ``dynamodb:getItem`` tasks.

Run it, and route the two actions to workers (``SFN_INTEGRATIONS``)::

    python -m workers.integrations_main workers.examples.dynamodb_table

    {"Routes": [{"Resource": "dynamodb:putItem", "Target": "worker"},
                {"Resource": "dynamodb:getItem", "Target": "worker"}]}

Items are DynamoDB JSON (``{"id": {"S": "001"}, "status": {"S": "open"}}``), kept in this
process's memory by table and key; the answers have AWS's shapes: ``{}`` for putItem,
``{"Item": ...}`` for getItem (``{}`` when there is no such item). Every table exists and is
keyed by ``id``, unless :data:`KEY_SCHEMAS` names its key attributes. putItem honours a
``ConditionExpression`` of ``attribute_not_exists(NAME)`` or ``attribute_exists(NAME)``
(how a state machine writes an item once) and fails as AWS does, with
``DynamoDB.ConditionalCheckFailedException``, which Retry and Catch can match.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from typing import Any

from messages import JsonValue
from workers.integrations import IntegrationContext, IntegrationError, integration

# Table name -> its key attributes (partition key, then sort key if any).
KEY_SCHEMAS: dict[str, tuple[str, ...]] = {}
DEFAULT_KEY = ("id",)

_CONDITION = re.compile(r"\s*(attribute_not_exists|attribute_exists)\s*\(\s*(#?\w+)\s*\)\s*")
_items: dict[tuple[str, str], dict[str, Any]] = {}
# Handlers run in threads, several at once.
_lock = threading.Lock()


@integration("dynamodb:putItem")
def put_item(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
    """PutItem: store ``Item`` in ``TableName``, replacing the item with its key."""
    request, table = _request(parameters)
    item = _member(request, "Item")
    key = _key(table, item, "item")
    condition = _condition(request)
    with _lock:
        if condition is not None:
            function, name = condition
            exists = name in _items.get((table, key), {})
            if exists != (function == "attribute_exists"):
                raise _error("ConditionalCheckFailedException", "The conditional request failed")
        _items[(table, key)] = copy.deepcopy(item)
    return {}


@integration("dynamodb:getItem")
def get_item(parameters: JsonValue, context: IntegrationContext) -> JsonValue:
    """GetItem: the item of ``TableName`` whose key is ``Key``."""
    request, table = _request(parameters)
    requested = _member(request, "Key")
    if set(requested) != set(KEY_SCHEMAS.get(table, DEFAULT_KEY)):
        raise _validation("The provided key element does not match the schema")
    with _lock:
        found = _items.get((table, _key(table, requested, "key")))
        return {} if found is None else {"Item": copy.deepcopy(found)}


def _request(parameters: JsonValue) -> tuple[dict[str, Any], str]:
    """The Parameters as an object, and their ``TableName``."""
    request = parameters if isinstance(parameters, dict) else {}
    table = request.get("TableName")
    if not isinstance(table, str) or not table:
        raise _null("tableName")
    return request, table


def _member(request: dict[str, Any], name: str) -> dict[str, Any]:
    value = request.get(name)
    if not isinstance(value, dict):
        raise _null(name.lower())
    return value


def _null(member: str) -> IntegrationError:
    return _validation(
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint:"
        " Member must not be null"
    )


def _key(table: str, attributes: dict[str, Any], where: str) -> str:
    """The item's key as text: its key attributes, in the schema's order."""
    names = KEY_SCHEMAS.get(table, DEFAULT_KEY)
    missing = [name for name in names if name not in attributes]
    if missing:
        raise _validation(
            f"One or more parameter values were invalid: Missing the key {missing[0]} in the"
            f" {where}"
        )
    return json.dumps([attributes[name] for name in names], sort_keys=True)


def _condition(request: dict[str, Any]) -> tuple[str, str] | None:
    """The ConditionExpression as (function, attribute name), or None when there is none."""
    expression = request.get("ConditionExpression")
    if expression is None:
        return None
    match = _CONDITION.fullmatch(expression) if isinstance(expression, str) else None
    if match is None:
        raise _validation(
            f"this example supports ConditionExpression attribute_not_exists(NAME) and"
            f" attribute_exists(NAME) only, not {expression!r}"
        )
    function, name = match.groups()
    names = request.get("ExpressionAttributeNames") or {}
    if name.startswith("#"):
        if not isinstance(names, dict) or name not in names:
            raise _validation(
                f"Value provided in ExpressionAttributeNames unused in expressions or"
                f" undefined: {name}"
            )
        name = str(names[name])
    return function, name


def _validation(message: str) -> IntegrationError:
    # The optimized integration names a ValidationException after the client's base class.
    return _error("ValidationException", message, error="DynamoDB.AmazonDynamoDBException")


def _error(code: str, message: str, *, error: str | None = None) -> IntegrationError:
    """An error as Step Functions' DynamoDB integration reports it (AWS SDK for Java v1)."""
    cause = (
        f"{message} (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: {code};"
        f" Request ID: {uuid.uuid4()}; Proxy: null)"
    )
    return IntegrationError(error or f"DynamoDB.{code}", cause)
