"""JSON data manipulation: States.StringToJson, States.JsonToString and States.JsonMerge."""

from __future__ import annotations

import random
from typing import Any

from messages import limits
from orchestrator.asl.bounds import OutOfBounds
from orchestrator.asl.intrinsics import java
from orchestrator.asl.intrinsics.spec import ANY, OBJECT, STRING, InvalidArguments, function


@function("States.StringToJson", STRING)
def _string_to_json(args: list[Any], rng: random.Random, static: Any) -> Any:
    """The parsed JSON text; an empty or blank text is null (recorded on AWS). Text nested
    deeper than the nesting limit fails as too deep (not as invalid); NaN, Infinity and
    numbers beyond a double are not JSON."""
    text = args[0].strip()
    if not text:
        return None
    try:
        return limits.loads(text)
    except limits.JsonTooDeep:
        raise OutOfBounds("depth") from None
    except ValueError:
        raise InvalidArguments from None


@function("States.JsonToString", ANY)
def _json_to_string(args: list[Any], rng: random.Random, static: Any) -> str:
    """Compact JSON text, as AWS writes it (``{"Arg1":1,"Arg2":[]}``)."""
    return java.to_json(args[0])


@function("States.JsonMerge", OBJECT, OBJECT, ANY)
def _json_merge(args: list[Any], rng: random.Random, static: Any) -> dict[str, Any]:
    """A shallow merge: the second object's keys win. The deep mode (``true``) is not
    available on AWS; any other third argument means shallow, as AWS accepts."""
    left, right, deep = args
    if deep is True:
        raise InvalidArguments
    return {**left, **right}
