"""Where each Task call goes: the routing table (``SFN_INTEGRATIONS``) and its defaults.

Defaults, with no file: Lambda functions and ``lambda:invoke`` go to worker queues;
``states:*`` and ``aws-sdk:sfn:startExecution`` (nested executions) and activities run in the
engine; the HTTP Task (``http:invoke``) and ``apigateway:invoke`` are HTTP requests the
orchestrator makes (``http``), with the ``Connections`` of the file for authentication; every other integration
goes to an AWS-compatible endpoint through botocore's standard configuration
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``, profiles, the credential chain).

A routing file overrides them per service or resource pattern (JSON)::

    {"Routes": [
        {"Resource": "dynamodb:*", "Target": "worker"},
        {"Resource": "aws-sdk:s3:*", "Target": "aws", "EndpointUrl": "http://127.0.0.1:9000"}
    ]}

``Connections`` holds the HTTP Task's connections by name (see
:mod:`orchestrator.integrations.http_target` for their format). ``Resource`` is a glob (``fnmatch``) over ``SERVICE:ACTION`` with the pattern suffix
(``sqs:sendMessage.waitForTaskToken``); ``sqs:sendMessage*`` matches every pattern. A Task
whose Resource is a function ARN is ``lambda:function:NAME`` (``lambda:*`` covers both forms). The first
route that matches wins. A test case of a mock configuration (``SFN_MOCK_CONFIG``) answers
its mocked states before any route applies.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from messages import limits
from orchestrator.integrations.http_target import Connection, parse_connections

Target = Literal["worker", "aws", "engine", "http", "rabbitmq", "lambda"]
TARGETS: tuple[str, ...] = ("worker", "aws", "engine", "http", "rabbitmq", "lambda")
# Targets a route may give an endpoint of its own.
_ENDPOINT_TARGETS = ("aws", "lambda")
# The largest routing file read: far beyond any hand-written table.
MAX_ROUTING_BYTES = 1024 * 1024
_ROUTE_FIELDS = {"Resource", "Target", "EndpointUrl"}


class RoutingError(ValueError):
    """A routing file was refused; ``problems`` lists each one as ``"where: what"``."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{source}: the routing file is refused:\n{lines}")


@dataclass(frozen=True)
class Route:
    """Where a call goes: ``target``, and for ``aws`` and ``lambda`` an endpoint of its own
    (or None)."""

    target: Target
    endpoint_url: str | None = None


@dataclass(frozen=True)
class Rule:
    """One route of the file: ``pattern`` (a glob over ``SERVICE:ACTION[PATTERN]``)."""

    pattern: str
    route: Route


_WORKER = Route("worker")
_ENGINE = Route("engine")
_AWS = Route("aws")
_HTTP = Route("http")


@dataclass(frozen=True)
class Routing:
    """The routing table: the file's rules, then the defaults; and the file's connections
    (the HTTP Task's ``Authentication.ConnectionArn`` names one)."""

    rules: tuple[Rule, ...] = ()
    connections: Mapping[str, Connection] = field(default_factory=dict)

    def route(
        self, integration: str, service: str, action: str, pattern: str, function: str = ""
    ) -> Route:
        """The route of one task (``integration`` as :class:`~orchestrator.asl.definition.
        TaskState` names it; ``function`` the function a function-ARN task calls)."""
        if integration in ("activity", "map-run"):  # (a Distributed Map's child execution)
            return _ENGINE
        key = (
            f"lambda:function:{function}"
            if integration == "function"
            else (f"{service}:{action}{pattern}")
        )
        for rule in self.rules:
            if fnmatch.fnmatchcase(key, rule.pattern):
                return rule.route
        if integration in ("function", "invoke"):
            return _WORKER
        if service == "states" or (service, action) == ("aws-sdk:sfn", "startExecution"):
            return _ENGINE
        if (service, action) in (("http", "invoke"), ("apigateway", "invoke")):
            return _HTTP
        return _AWS

    @classmethod
    def parse(cls, text: str, source: str = "<routing file>") -> Routing:
        """Read a routing file's text; raises :class:`RoutingError` listing every problem."""
        try:
            document = limits.loads(text)
        except ValueError as exc:
            raise RoutingError(source, [f"not JSON: {exc}"]) from None
        problems: list[str] = []
        rules: list[Rule] = []
        if not isinstance(document, dict):
            raise RoutingError(source, ["the file must hold a JSON object with 'Routes'"])
        for key in document:
            if key not in ("Routes", "Connections"):
                problems.append(f"/{key}: unknown field (the file has 'Routes' and 'Connections')")
        routes = document.get("Routes", [])
        if not isinstance(routes, list):
            problems.append("/Routes: must be a list of routes")
            routes = []
        for index, raw in enumerate(routes):
            rule = _rule(raw, f"/Routes/{index}", problems)
            if rule is not None:
                rules.append(rule)
        connections = parse_connections(document.get("Connections", {}), "/Connections", problems)
        if problems:
            raise RoutingError(source, problems)
        return cls(tuple(rules), connections)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Routing:
        """Read the routing file at ``path`` (bounded in size)."""
        with open(path, "rb") as file:
            data = file.read(MAX_ROUTING_BYTES + 1)
        if len(data) > MAX_ROUTING_BYTES:
            raise RoutingError(str(path), [f"larger than {MAX_ROUTING_BYTES} bytes"])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RoutingError(str(path), [f"not UTF-8 text: {exc}"]) from None
        return cls.parse(text, str(path))


def _rule(raw: Any, where: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a route must be an object with 'Resource' and 'Target'")
        return None
    before = len(problems)
    for key in raw:
        if key not in _ROUTE_FIELDS:
            allowed = ", ".join(sorted(_ROUTE_FIELDS))
            problems.append(f"{where}/{key}: unknown field (a route has {allowed})")
    pattern, target, endpoint = raw.get("Resource"), raw.get("Target"), raw.get("EndpointUrl")
    if not isinstance(pattern, str) or not pattern:
        problems.append(f"{where}/Resource: must be a glob such as 'dynamodb:*'")
    if target not in TARGETS:
        problems.append(
            f"{where}/Target: {json.dumps(target)} is not a target; targets: {', '.join(TARGETS)}"
        )
    if endpoint is not None and (not isinstance(endpoint, str) or target not in _ENDPOINT_TARGETS):
        problems.append(f"{where}/EndpointUrl: a URL string, for the 'aws' and 'lambda' targets")
    if len(problems) > before:
        return None
    assert isinstance(pattern, str)
    return Rule(pattern, Route(target, endpoint))  # type: ignore[arg-type]  # checked above
