"""The HTTP Task (``http:invoke``) and API Gateway (``apigateway:invoke``), called directly.

Synchronous, for a thread, like :class:`~orchestrator.integrations.targets.Targets`:
:meth:`HttpTarget.call` answers an :class:`~messages.IntegrationRequest` with the task
results to apply, or None when the request is neither integration.

**HTTP Task** (AWS: "Call HTTPS APIs in Step Functions workflows"). Parameters
``ApiEndpoint``, ``Method``, ``Authentication.ConnectionArn`` (``InvocationConfig`` is read
too), ``Headers``, ``QueryParameters``, ``Transform`` (``RequestBodyEncoding``
``URL_ENCODED`` with ``RequestEncodingOptions.ArrayFormat`` ``INDICES`` (default),
``REPEAT``, ``COMMAS`` or ``BRACKETS``) and ``RequestBody``. The connection's
``InvocationHttpParameters`` are merged into the request, its values winning over the
task's, and a string RequestBody cannot take its body parameters (States.Runtime). The
result is ``{Headers, ResponseBody, StatusCode, StatusText}``: each header a list of its
values, the body parsed when its content type is JSON. A status outside 2xx fails the task
with ``States.Http.StatusCode.<code>`` and that result, as JSON text, for cause; no answer
at all (refused, reset, timed out) fails it with ``States.Http.Socket``. Step Functions
sets ``User-Agent`` and ``Range`` itself, and refuses headers that belong to the transport
or to AWS (``Host``, ``Content-Length``, ``X-Amz-*``...). ``http://`` endpoints are
accepted as well as ``https://`` (this engine runs next to local services).

**API Gateway** (AWS: "Call API Gateway with Step Functions"). ``ApiEndpoint`` is the host
``<api-id>.execute-api.<region>.amazonaws.com`` (called over HTTPS) or, for a local
gateway, a URL with its scheme (``http://127.0.0.1:4566/restapis/abc``); ``Stage`` and
``Path`` follow it, ``Headers`` and ``QueryParameters`` hold lists of values,
``RequestBody`` is sent as JSON (``AllowNullValues`` is accepted and has no effect).
``AuthType`` ``IAM_ROLE`` and ``RESOURCE_POLICY`` sign the
request with SigV4 for ``execute-api`` from botocore's credential chain (as the Task's
``Credentials.RoleArn`` when given); ``NO_AUTH`` (the default) sends it as is. A status
outside 2xx fails the task with ``ApiGateway.<status>`` and the response body as cause;
no answer fails it with ``ApiGateway.<Java exception>``. ``.waitForTaskToken`` answers
TaskSubmitted with the response.

Both read at most :data:`MAX_RESPONSE_BYTES` of a response (a larger one fails the task
with States.DataLimitExceeded, as AWS's payload limit does), give up after ``timeout``
seconds in all, and follow redirects only within the same scheme, host and port.

**Connections** (EventBridge connections, for the HTTP Task) come from the routing file's
``Connections`` object, keyed by the connection's name (the NAME of
``arn:aws:events:REGION:ACCOUNT:connection/NAME/UUID``), each as EventBridge's
CreateConnection takes it::

    {"Connections": {
        "stripe": {
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": {"ApiKeyName": "Authorization",
                                         "ApiKeyValue": {"Env": "STRIPE_KEY"}},
                "InvocationHttpParameters": {
                    "HeaderParameters": [{"Key": "Stripe-Version", "Value": "2024-06-20"}],
                    "QueryStringParameters": [{"Key": "expand", "Value": "data"}],
                    "BodyParameters": [{"Key": "livemode", "Value": "false"}]}}},
        "partner": {
            "AuthorizationType": "BASIC",
            "AuthParameters": {"BasicAuthParameters": {"Username": "sfn",
                                                       "Password": {"Env": "PARTNER_PW"}}}},
        "okta": {
            "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
            "AuthParameters": {"OAuthParameters": {
                "AuthorizationEndpoint": "https://example.okta.com/oauth2/v1/token",
                "HttpMethod": "POST",
                "ClientParameters": {"ClientID": "0oa1", "ClientSecret": {"Env": "OKTA_SECRET"}},
                "OAuthHttpParameters": {
                    "BodyParameters": [{"Key": "scope", "Value": "okta.users.manage"}]}}}}
    }}

Every secret (``ApiKeyValue``, ``Password``, ``ClientSecret``) and every parameter
``Value`` is a string or ``{"Env": "VARIABLE"}``, read from the environment when the file
is loaded, so that the file itself need hold no secret. API_KEY sends header
``ApiKeyName: ApiKeyValue``; BASIC sends ``Authorization: Basic``; OAUTH_CLIENT_CREDENTIALS
asks the ``AuthorizationEndpoint`` for a token (HTTP Basic with the client id and secret,
a form body with ``grant_type=client_credentials`` and the ``OAuthHttpParameters``), keeps
it until shortly before its ``expires_in`` and asks again when the API answers 401 or 407.
Secrets never appear in a cause or a log line.
"""

from __future__ import annotations

import base64
import functools
import http
import http.client
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlencode, urljoin, urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import AssumeRoleCredentialFetcher, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError

import messages
from messages import limits
from orchestrator.asl import errors
from orchestrator.asl.intrinsics.java import to_json
from orchestrator.integrations.answers import answered, failed, internal_failure
from orchestrator.integrations.aws.failures import TaskCallFailed

log = logging.getLogger(__name__)

# A result holds the body, so a body past the payload limit cannot make a result; the margin
# leaves the exact verdict to the engine's own check of the result (JSON text may shrink).
MAX_RESPONSE_BYTES: Final = limits.MAX_PAYLOAD_BYTES + 64 * 1024
MAX_REDIRECTS: Final = 5
# An OAuth token is renewed this long before the expiry its endpoint announced.
TOKEN_MARGIN_SECONDS: Final = 30.0
MAX_TOKEN_RESPONSE_BYTES: Final = 64 * 1024

HTTP_STATUS_PREFIX: Final = "States.Http.StatusCode."
HTTP_SOCKET: Final = "States.Http.Socket"
CONNECTION_INVALID_STATE: Final = "Events.ConnectionResource.InvalidConnectionState"

METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
AUTHORIZATION_TYPES: Final = ("API_KEY", "BASIC", "OAUTH_CLIENT_CREDENTIALS")
ARRAY_FORMATS: Final = ("INDICES", "REPEAT", "COMMAS", "BRACKETS")
_OAUTH_METHODS: Final = ("GET", "POST", "PUT")
_AUTH_PARAMETERS: Final = {
    "API_KEY": "ApiKeyAuthParameters",
    "BASIC": "BasicAuthParameters",
    "OAUTH_CLIENT_CREDENTIALS": "OAuthParameters",
}
_PARAMETER_LISTS: Final = ("HeaderParameters", "QueryStringParameters", "BodyParameters")

# Headers an HTTP Task may not set: the transport's own, and AWS's (EventBridge's reserved
# list, which the HTTP Task shares). Step Functions overrides User-Agent and Range instead.
_HTTP_FORBIDDEN_PREFIXES: Final = ("x-forwarded", "x-amz", "x-amzn")
_HTTP_FORBIDDEN: Final = frozenset(
    {
        "a-im", "accept-charset", "accept-datetime", "accept-encoding", "authorization",
        "cache-control", "connection", "content-encoding", "content-length", "content-md5",
        "date", "expect", "forwarded", "from", "host", "http2-settings", "if-match",
        "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
        "max-forwards", "origin", "pragma", "proxy-authorization", "referer", "server", "te",
        "trailer", "transfer-encoding", "upgrade", "via", "warning",
    }
)  # fmt: skip
# API Gateway's list, from its Step Functions page; Content-Length is ours to compute.
_APIGW_FORBIDDEN: Final = frozenset(
    {
        "authorization", "connection", "content-length", "content-md5", "expect", "host",
        "max-forwards", "proxy-authenticate", "server", "te", "transfer-encoding",
        "trailer", "upgrade", "via", "www-authenticate",
    }
)  # fmt: skip
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_CONNECTION_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_CONNECTION_ARN = re.compile(r"^arn:[\w-]+:events:[^:]*:[^:]*:connection/([^/]+)(/[^/]*)?$")
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_SSL_CONTEXT = ssl.create_default_context()


@dataclass(frozen=True)
class Connection:
    """An EventBridge connection: its ``name``, ``authorization_type`` (``API_KEY``,
    ``BASIC``, ``OAUTH_CLIENT_CREDENTIALS``) and ``parameters``, CreateConnection's
    AuthParameters with every ``{"Env": ...}`` read (kept out of ``repr``: secrets)."""

    name: str
    authorization_type: str
    parameters: dict[str, Any] = field(repr=False)


# -- the routing file's "Connections" ---------------------------------------------------------


def parse_connections(raw: Any, where: str, problems: list[str]) -> dict[str, Connection]:
    """The connections of a routing file's ``Connections`` object (at ``where``, such as
    ``/Connections``); appends each problem to ``problems`` as ``"where: what"``."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object of connections by name")
        return {}
    connections: dict[str, Connection] = {}
    for name, spec in raw.items():
        place = f"{where}/{name}"
        if not _CONNECTION_NAME.match(name):
            problems.append(f"{place}: a connection name has 1 to 64 of A-Z a-z 0-9 . _ -")
            continue
        connection = _connection(name, spec, place, problems)
        if connection is not None:
            connections[name] = connection
    return connections


def _connection(name: str, spec: Any, where: str, problems: list[str]) -> Connection | None:
    if not isinstance(spec, dict):
        problems.append(f"{where}: must be an object with AuthorizationType and AuthParameters")
        return None
    before = len(problems)
    _no_other_fields(spec, ("AuthorizationType", "AuthParameters", "Description"), where, problems)
    kind = spec.get("AuthorizationType")
    if kind not in AUTHORIZATION_TYPES:
        problems.append(
            f"{where}/AuthorizationType: must be one of {', '.join(AUTHORIZATION_TYPES)}"
        )
        return None
    raw = spec.get("AuthParameters")
    place = f"{where}/AuthParameters"
    if not isinstance(raw, dict):
        problems.append(f"{place}: must be an object with {_AUTH_PARAMETERS[kind]}")
        return None
    expected = _AUTH_PARAMETERS[kind]
    _no_other_fields(raw, (expected, "InvocationHttpParameters"), place, problems)
    parameters: dict[str, Any] = {}
    if kind == "API_KEY":
        parameters[expected] = _fields(
            raw.get(expected),
            {"ApiKeyName": False, "ApiKeyValue": True},
            f"{place}/{expected}",
            problems,
        )
        key_name = parameters[expected].get("ApiKeyName")
        if isinstance(key_name, str) and not _TOKEN.match(key_name):
            problems.append(f"{place}/{expected}/ApiKeyName: not a valid header name")
    elif kind == "BASIC":
        parameters[expected] = _fields(
            raw.get(expected),
            {"Username": False, "Password": True},
            f"{place}/{expected}",
            problems,
        )
    else:
        parameters[expected] = _oauth(raw.get(expected), f"{place}/{expected}", problems)
    if "InvocationHttpParameters" in raw:
        parameters["InvocationHttpParameters"] = _http_parameters(
            raw["InvocationHttpParameters"], f"{place}/InvocationHttpParameters", problems
        )
    if len(problems) > before:
        return None
    return Connection(name, kind, parameters)


def _oauth(raw: Any, where: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object with AuthorizationEndpoint and ...")
        return {}
    _no_other_fields(
        raw,
        ("AuthorizationEndpoint", "HttpMethod", "ClientParameters", "OAuthHttpParameters"),
        where,
        problems,
    )
    endpoint = raw.get("AuthorizationEndpoint")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
        problems.append(f"{where}/AuthorizationEndpoint: must be an http(s) URL")
    method = raw.get("HttpMethod", "POST")
    if method not in _OAUTH_METHODS:
        problems.append(f"{where}/HttpMethod: must be one of {', '.join(_OAUTH_METHODS)}")
    client = _fields(
        raw.get("ClientParameters"),
        {"ClientID": False, "ClientSecret": True},
        f"{where}/ClientParameters",
        problems,
    )
    result: dict[str, Any] = {
        "AuthorizationEndpoint": endpoint,
        "HttpMethod": method,
        "ClientParameters": client,
    }
    if "OAuthHttpParameters" in raw:
        result["OAuthHttpParameters"] = _http_parameters(
            raw["OAuthHttpParameters"], f"{where}/OAuthHttpParameters", problems
        )
    return result


def _http_parameters(raw: Any, where: str, problems: list[str]) -> dict[str, list[dict[str, Any]]]:
    """ConnectionHttpParameters: lists of ``{Key, Value, IsValueSecret}``."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object with {', '.join(_PARAMETER_LISTS)}")
        return {}
    _no_other_fields(raw, _PARAMETER_LISTS, where, problems)
    result: dict[str, list[dict[str, Any]]] = {}
    for kind in _PARAMETER_LISTS:
        items = raw.get(kind, [])
        place = f"{where}/{kind}"
        if not isinstance(items, list):
            problems.append(f"{place}: must be a list of {{Key, Value}}")
            continue
        result[kind] = []
        for index, item in enumerate(items):
            entry = _fields(
                item,
                {"Key": False, "Value": True},
                f"{place}/{index}",
                problems,
                optional=("IsValueSecret",),
            )
            if kind == "HeaderParameters" and not _TOKEN.match(str(entry.get("Key", ""))):
                problems.append(f"{place}/{index}/Key: not a valid header name")
            result[kind].append(entry)
    return result


def _fields(
    raw: Any,
    names: Mapping[str, bool],
    where: str,
    problems: list[str],
    optional: tuple[str, ...] = (),
) -> dict[str, str]:
    """The string fields ``names`` of ``raw`` (all required, no others but ``optional``); a
    field marked True may be ``{"Env": "VARIABLE"}``, read from the environment now."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object with {', '.join(names)}")
        return {}
    _no_other_fields(raw, (*names, *optional), where, problems)
    result: dict[str, str] = {}
    for name, from_env in names.items():
        value = raw.get(name)
        if isinstance(value, str):
            result[name] = value
        elif from_env and isinstance(value, dict) and set(value) == {"Env"}:
            variable = value["Env"]
            text = os.environ.get(variable) if isinstance(variable, str) else None
            if text is None:
                problems.append(f"{where}/{name}: the environment variable {variable} is not set")
            else:
                result[name] = text
        else:
            kind = 'a string or {"Env": "VARIABLE"}' if from_env else "a string"
            problems.append(f"{where}/{name}: must be {kind}")
    return result


def _no_other_fields(
    raw: dict[str, Any], allowed: tuple[str, ...], where: str, problems: list[str]
) -> None:
    for key in raw:
        if key not in allowed:
            problems.append(f"{where}/{key}: unknown field (allowed: {', '.join(allowed)})")


# -- the exchange -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None


@dataclass(frozen=True)
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class _NoAnswer(Exception):
    """The request got no HTTP answer; ``kind`` says why (``timeout``, ``dns``, ``refused``,
    ``io``) and the message how, with no query string or header in it."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class _TooLarge(Exception):
    """The response body is larger than allowed."""


def _send(request: _Request, deadline: float, limit: int) -> _Response:
    """``request``'s response, following redirects within the same origin."""
    for _ in range(MAX_REDIRECTS + 1):
        response = _exchange(request, deadline, limit)
        location = _header(response.headers, "location")
        if response.status not in _REDIRECTS or location is None:
            return response
        target = urljoin(request.url, location)
        if _origin(target) != _origin(request.url):
            return response  # another host: the caller sees the 3xx itself
        method, body, headers = request.method, request.body, request.headers
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method = "GET" if method != "HEAD" else method
            body = None
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        request = _Request(method, target, headers, body)
    return response


def _exchange(request: _Request, deadline: float, limit: int) -> _Response:
    """One request and its response, within ``deadline`` (a monotonic time)."""
    parts = urlsplit(request.url)
    where = _safe_url(request.url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _NoAnswer("timeout", f"no answer from {where} in time")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=remaining, context=_SSL_CONTEXT
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=remaining)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.putrequest(request.method, target, skip_accept_encoding=True)
        for name, value in request.headers:
            connection.putheader(name, value)
        if request.body is not None or request.method in _BODY_METHODS:
            connection.putheader("Content-Length", str(len(request.body or b"")))
        connection.endheaders(request.body)
        sock = connection.sock
        response = connection.getresponse()
        declared = response.getheader("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        body = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if sock is not None:
                sock.settimeout(remaining)
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            body += chunk
            if len(body) > limit:
                raise _TooLarge
        return _Response(response.status, response.reason, response.getheaders(), bytes(body))
    except TimeoutError:  # socket.timeout too
        raise _NoAnswer("timeout", f"no answer from {where} in time") from None
    except socket.gaierror as error:
        raise _NoAnswer("dns", f"{parts.hostname}: {error.strerror or error}") from None
    except ConnectionRefusedError:
        raise _NoAnswer("refused", f"connection to {where} refused") from None
    except (OSError, http.client.HTTPException) as error:
        raise _NoAnswer("io", f"{where}: {type(error).__name__}: {error}") from None
    finally:
        connection.close()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _safe_url(url: str) -> str:
    """``url`` without its query string and user info: what a cause or a log may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _result(response: _Response) -> dict[str, Any]:
    """The task's result: ``Headers`` (lists of values), ``ResponseBody``, ``StatusCode``,
    ``StatusText``."""
    headers: dict[str, list[str]] = {}
    for name, value in response.headers:
        headers.setdefault(name, []).append(value)
    text = response.body.decode("utf-8", errors="replace")
    body: Any = text
    media = (_header(response.headers, "content-type") or "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            body = limits.loads(text) if text else text
        except ValueError:
            body = text
    try:
        phrase = response.reason or http.HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    return {
        "Headers": headers,
        "ResponseBody": body,
        "StatusCode": response.status,
        "StatusText": phrase,
    }


# -- the target ---------------------------------------------------------------------------------


@dataclass
class _Token:
    value: str
    expires: float  # monotonic; inf when the endpoint announced no expiry


class HttpTarget:
    """Carries out ``http:invoke`` and ``apigateway:invoke`` calls; thread-safe.

    ``connections`` are the EventBridge connections by name; ``timeout`` bounds each call
    (token fetch, redirects and reading included); ``session`` gives botocore's credential
    chain for signed API Gateway calls (a default session when None).
    """

    def __init__(
        self,
        connections: Mapping[str, Connection],
        *,
        timeout: float = 60.0,
        session: botocore.session.Session | None = None,
    ) -> None:
        self.connections = dict(connections)
        self.timeout = timeout
        self._session = session or botocore.session.Session()
        self._lock = threading.Lock()
        self._token_locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, _Token] = {}
        self._roles: dict[tuple[str, str], AssumeRoleCredentialFetcher] = {}

    def call(self, request: messages.IntegrationRequest) -> list[messages.AnyTaskResult] | None:
        """The results of ``request``, or None when it is not an HTTP or API Gateway call."""
        if request.action != "invoke" or request.service not in ("http", "apigateway"):
            return None
        try:
            if request.service == "http":
                if request.pattern:
                    raise TaskCallFailed(
                        errors.RUNTIME,
                        f"The {request.pattern} integration pattern is not supported by"
                        " http:invoke (request-response only)",
                    )
                output = self._http_task(request)
            else:
                if request.pattern not in ("", ".waitForTaskToken"):
                    raise TaskCallFailed(
                        errors.RUNTIME,
                        f"The {request.pattern} integration pattern is not supported by"
                        " apigateway:invoke",
                    )
                output = self._apigateway(request)
        except TaskCallFailed as failure:
            return [failed(request, failure.error, failure.cause)]
        except Exception as exc:  # a fault of ours: no message, which may hold a secret
            return [internal_failure(request, exc, detail=False)]
        return [answered(request, output)]

    # -- http:invoke ---------------------------------------------------------------------------

    def _http_task(self, request: messages.IntegrationRequest) -> Any:
        parameters = _parameters(request.parameters)
        endpoint = parameters.get("ApiEndpoint")
        if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
            raise _invalid("ApiEndpoint", "must be an http(s) URL")
        if not urlsplit(endpoint).hostname:
            raise _invalid("ApiEndpoint", "must name a host")
        method = _method(parameters)
        connection = self._connection(_connection_arn(parameters))
        deadline = time.monotonic() + self.timeout
        invocation = connection.parameters.get("InvocationHttpParameters", {})

        headers = _http_headers(parameters.get("Headers"))
        headers = _override(headers, _pairs(invocation.get("HeaderParameters")), fold=True)
        query = _flatten(parameters.get("QueryParameters"), "REPEAT", "QueryParameters")
        query = _override(query, _pairs(invocation.get("QueryStringParameters")), fold=False)
        encoding, array_format = _transform(parameters.get("Transform"))
        # A GET or HEAD carries no body: the connection's body parameters are for the others.
        connection_body = [] if method in ("GET", "HEAD") else invocation.get("BodyParameters")
        body, content_type = _http_body(parameters, _pairs(connection_body), encoding, array_format)
        if body is not None and _header(headers, "content-type") is None:
            headers.append(("Content-Type", content_type))
        auth = self._auth_headers(connection, deadline)
        headers = _override(headers, auth, fold=True)
        headers = _override(
            headers,
            [
                ("User-Agent", f"Amazon|StepFunctions|HttpInvoke|{request.region}"),
                ("Range", f"bytes=0-{limits.MAX_PAYLOAD_BYTES}"),
            ],
            fold=True,
        )
        _check_headers(headers)
        url = _with_query(endpoint, query)
        response = self._exchange_http(_Request(method, url, headers, body), deadline, request)
        if response.status in (401, 407) and connection.authorization_type.startswith("OAUTH"):
            # The token was refused: EventBridge asks for a new one and tries again, once.
            refused = _header(auth, "authorization")
            renewed = self._auth_headers(connection, deadline, refused=refused)
            headers = _override(headers, renewed, fold=True)
            response = self._exchange_http(_Request(method, url, headers, body), deadline, request)
        result = _result(response)
        if not 200 <= response.status < 300:
            raise TaskCallFailed(f"{HTTP_STATUS_PREFIX}{response.status}", to_json(result))
        return result

    def _exchange_http(
        self, http_request: _Request, deadline: float, request: messages.IntegrationRequest
    ) -> _Response:
        log.debug("http:invoke %s %s", http_request.method, _safe_url(http_request.url))
        try:
            return _send(http_request, deadline, MAX_RESPONSE_BYTES)
        except _NoAnswer as no_answer:
            raise TaskCallFailed(HTTP_SOCKET, str(no_answer)) from None
        except _TooLarge:
            raise _data_limit(request) from None

    def _connection(self, arn: str) -> Connection:
        match = _CONNECTION_ARN.match(arn)
        if match is None:
            raise _invalid(
                "Authentication.ConnectionArn",
                "must be an EventBridge connection ARN"
                " (arn:aws:events:REGION:ACCOUNT:connection/NAME/UUID)",
            )
        connection = self.connections.get(match.group(1))
        if connection is None:
            raise TaskCallFailed(
                errors.RUNTIME,
                f"The connection '{match.group(1)}' of {arn} is not defined: add it to the"
                " routing file's Connections",
            )
        return connection

    def _auth_headers(
        self, connection: Connection, deadline: float, *, refused: str | None = None
    ) -> list[tuple[str, str]]:
        parameters = connection.parameters
        if connection.authorization_type == "API_KEY":
            key = parameters["ApiKeyAuthParameters"]
            return [(key["ApiKeyName"], key["ApiKeyValue"])]
        if connection.authorization_type == "BASIC":
            basic = parameters["BasicAuthParameters"]
            return [("Authorization", _basic(basic["Username"], basic["Password"]))]
        refused_token = refused.removeprefix("Bearer ") if refused else None
        return [("Authorization", f"Bearer {self._token(connection, deadline, refused_token)}")]

    def _token(self, connection: Connection, deadline: float, refused: str | None) -> str:
        """The connection's OAuth access token, from the cache or its token endpoint; a new
        one when the cached one is ``refused`` (unless another call renewed it already)."""
        with self._lock:
            lock = self._token_locks.setdefault(connection.name, threading.Lock())
        # One fetch per connection at a time; other connections' calls go on meanwhile.
        with lock:
            cached = self._tokens.get(connection.name)
            if cached and cached.expires > time.monotonic() and cached.value != refused:
                return cached.value
            token = _fetch_token(connection, deadline)
            self._tokens[connection.name] = token
            return token.value

    # -- apigateway:invoke ---------------------------------------------------------------------

    def _apigateway(self, request: messages.IntegrationRequest) -> Any:
        parameters = _parameters(request.parameters)
        endpoint = parameters.get("ApiEndpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise _invalid("ApiEndpoint", "must be the API's host name")
        base = endpoint if "://" in endpoint else f"https://{endpoint}"
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _invalid("ApiEndpoint", "must be <api-id>.execute-api.<region>.amazonaws.com")
        method = _method(parameters)
        segments = [base.rstrip("/")]
        for name in ("Stage", "Path"):
            value = parameters.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise _invalid(name, "must be a string")
            segments.append(quote(value.strip("/"), safe="/-._~!$&'()*+,;=:@%"))
        query = _multi_values(parameters.get("QueryParameters"), "QueryParameters")
        url = _with_query("/".join(segments), query)
        headers = _multi_values(parameters.get("Headers"), "Headers")
        for name, _ in headers:
            lowered = name.lower()
            if lowered in _APIGW_FORBIDDEN or lowered.startswith(_HTTP_FORBIDDEN_PREFIXES):
                raise TaskCallFailed(
                    errors.RUNTIME, f"The 'Headers' field contains unsupported values: {name}"
                )
        body: bytes | None = None
        if parameters.get("RequestBody") is not None:
            body = to_json(parameters["RequestBody"]).encode()
            if _header(headers, "content-type") is None:
                headers.append(("Content-Type", "application/json"))
        auth = parameters.get("AuthType", "NO_AUTH")
        if auth in ("IAM_ROLE", "RESOURCE_POLICY"):
            region = _execute_api_region(parts.hostname) or request.region
            headers = self._signed(method, url, headers, body, region, request.credentials)
        elif auth != "NO_AUTH":
            raise _invalid("AuthType", "must be NO_AUTH, IAM_ROLE or RESOURCE_POLICY")
        _check_headers(headers)
        deadline = time.monotonic() + self.timeout
        log.debug("apigateway:invoke %s %s", method, _safe_url(url))
        try:
            response = _send(_Request(method, url, headers, body), deadline, MAX_RESPONSE_BYTES)
        except _NoAnswer as no_answer:
            raise TaskCallFailed(
                f"ApiGateway.{_JAVA_EXCEPTIONS[no_answer.kind]}", str(no_answer)
            ) from None
        except _TooLarge:
            raise _data_limit(request) from None
        if not 200 <= response.status < 300:
            cause = response.body.decode("utf-8", errors="replace")
            raise TaskCallFailed(f"ApiGateway.{response.status}", cause)
        return _result(response)

    def _signed(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        region: str,
        task_credentials: Any,
    ) -> list[tuple[str, str]]:
        """``headers`` with SigV4's (``execute-api``), as the Task's role when it names one."""
        credentials = self._credentials(task_credentials, region)
        signing = AWSRequest(method=method, url=url, data=body or b"")
        for name, value in headers:
            signing.headers[name] = value  # HTTPHeaders adds: repeated names are kept
        SigV4Auth(credentials, "execute-api", region).add_auth(signing)
        return list(signing.headers.items())

    def _credentials(self, task_credentials: Any, region: str) -> ReadOnlyCredentials:
        role_arn = _role_arn(task_credentials)
        with self._lock:  # botocore sessions are not safe to use from threads at once
            source = self._session.get_credentials()
            if source is None:
                raise TaskCallFailed(
                    "ApiGateway.SdkClientException",
                    "Unable to load AWS credentials from any provider in the chain",
                )
            if role_arn is None:
                frozen: ReadOnlyCredentials = source.get_frozen_credentials()
                return frozen
            fetcher = self._roles.get((role_arn, region))
            if fetcher is None:
                creator: Callable[..., Any] = functools.partial(
                    self._session.create_client, region_name=region
                )
                fetcher = AssumeRoleCredentialFetcher(creator, source, role_arn)
                self._roles[(role_arn, region)] = fetcher
        try:
            assumed = fetcher.fetch_credentials()
        except ClientError as error:
            details = error.response.get("Error", {})
            reason = f"{details.get('Code')}: {details.get('Message')}"
            raise TaskCallFailed(
                errors.TASK_FAILED, f"Unable to assume the role {role_arn}: {reason}"
            ) from None
        except BotoCoreError as error:
            raise TaskCallFailed(
                errors.TASK_FAILED, f"Unable to assume the role {role_arn}: {error}"
            ) from None
        return ReadOnlyCredentials(assumed["access_key"], assumed["secret_key"], assumed["token"])


# The Java exception API Gateway's integration (AWS's Java) would name for no answer.
_JAVA_EXCEPTIONS: Final = {
    "timeout": "SocketTimeoutException",
    "dns": "UnknownHostException",
    "refused": "ConnectException",
    "io": "IOException",
}


# -- parameters ---------------------------------------------------------------------------------


def _parameters(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TaskCallFailed(errors.RUNTIME, "The Task's Parameters must be a JSON object")
    return raw


def _invalid(name: str, what: str) -> TaskCallFailed:
    return TaskCallFailed(errors.RUNTIME, f"The Task's parameter {name} {what}")


def _method(parameters: dict[str, Any]) -> str:
    method = parameters.get("Method")
    if method not in METHODS:
        raise _invalid("Method", f"must be one of {', '.join(sorted(METHODS))}")
    assert isinstance(method, str)
    return method


def _connection_arn(parameters: dict[str, Any]) -> str:
    for field_name in ("Authentication", "InvocationConfig"):
        holder = parameters.get(field_name)
        if isinstance(holder, dict) and isinstance(holder.get("ConnectionArn"), str):
            arn: str = holder["ConnectionArn"]
            return arn
    raise _invalid("Authentication.ConnectionArn", "is required (an EventBridge connection ARN)")


def _role_arn(credentials: Any) -> str | None:
    if not credentials:
        return None
    if isinstance(credentials, dict):
        for key, value in credentials.items():
            if key.lower() == "rolearn" and isinstance(value, str) and value:
                return value
    raise TaskCallFailed(
        errors.RUNTIME, "The Task's Credentials must name the role to assume in RoleArn"
    )


def _transform(raw: Any) -> tuple[str, str]:
    """``Transform``: the body encoding (``NONE`` or ``URL_ENCODED``) and the array format."""
    if raw is None:
        return "NONE", "INDICES"
    if not isinstance(raw, dict):
        raise _invalid("Transform", "must be an object")
    encoding = raw.get("RequestBodyEncoding", "NONE")
    if encoding not in ("NONE", "URL_ENCODED"):
        raise _invalid("Transform.RequestBodyEncoding", "must be NONE or URL_ENCODED")
    options = raw.get("RequestEncodingOptions") or {}
    array_format = options.get("ArrayFormat", "INDICES") if isinstance(options, dict) else None
    if array_format not in ARRAY_FORMATS:
        raise _invalid(
            "Transform.RequestEncodingOptions.ArrayFormat",
            f"must be one of {', '.join(ARRAY_FORMATS)}",
        )
    return encoding, array_format


def _http_headers(raw: Any) -> list[tuple[str, str]]:
    """The HTTP Task's ``Headers``: an object of names to text (a list's items joined)."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise _invalid("Headers", "must be an object")
    headers: list[tuple[str, str]] = []
    for name, value in raw.items():
        lowered = name.lower()
        if lowered in _HTTP_FORBIDDEN or lowered.startswith(_HTTP_FORBIDDEN_PREFIXES):
            raise TaskCallFailed(
                errors.RUNTIME, f"The 'Headers' field contains unsupported values: {name}"
            )
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        headers.append((name, ", ".join(_scalar(item, f"Headers.{name}") for item in items)))
    _check_headers(headers)
    return headers


def _multi_values(raw: Any, name: str) -> list[tuple[str, str]]:
    """API Gateway's ``Headers``/``QueryParameters``: names to a list of values (or one)."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise _invalid(name, "must be an object of lists of values")
    pairs: list[tuple[str, str]] = []
    for key, value in raw.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((key, _scalar(item, f"{name}.{key}")))
    return pairs


def _check_headers(headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        if not _TOKEN.match(name):
            raise TaskCallFailed(errors.RUNTIME, f"{name!r} is not a valid HTTP header name")
        if any(char in value for char in "\r\n\0"):
            raise TaskCallFailed(errors.RUNTIME, f"The value of header {name} has a line break")


def _scalar(value: Any, where: str) -> str:
    """A JSON scalar as the text it stands for in a URL, a form or a header."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return to_json(value)
    raise _invalid(where, "must hold strings, numbers or booleans")


def _flatten(value: Any, array_format: str, where: str) -> list[tuple[str, str]]:
    """A JSON object as form pairs: nested objects as ``key[sub]``, arrays as
    ``array_format`` says (``INDICES`` ``a[0]=x``, ``REPEAT`` ``a=x``, ``COMMAS`` ``a=x,y``,
    ``BRACKETS`` ``a[]=x``)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _invalid(where, "must be an object")
    pairs: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [(str(key), item) for key, item in value.items()][::-1]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend([(f"{key}[{sub}]", child) for sub, child in item.items()][::-1])
        elif isinstance(item, list):
            if array_format == "COMMAS" and not any(isinstance(x, dict | list) for x in item):
                if item:
                    pairs.append((key, ",".join(_scalar(x, where) for x in item)))
                continue
            children = [
                (_array_key(key, index, array_format), child) for index, child in enumerate(item)
            ]
            stack.extend(children[::-1])
        else:
            pairs.append((key, _scalar(item, where)))
    return pairs


def _array_key(key: str, index: int, array_format: str) -> str:
    if array_format == "INDICES":
        return f"{key}[{index}]"
    return f"{key}[]" if array_format == "BRACKETS" else key


def _pairs(parameters: Any) -> list[tuple[str, str]]:
    """A connection's ``[{Key, Value}]`` list as pairs."""
    return [(item["Key"], item["Value"]) for item in parameters or []]


def _override(
    pairs: list[tuple[str, str]], winners: list[tuple[str, str]], *, fold: bool
) -> list[tuple[str, str]]:
    """``pairs`` with every name of ``winners`` replaced by the winners' values (header
    names compared case-insensitively when ``fold``)."""
    if not winners:
        return pairs

    def norm(name: str) -> str:
        return name.lower() if fold else name

    replaced = {norm(name) for name, _ in winners}
    return [pair for pair in pairs if norm(pair[0]) not in replaced] + winners


def _http_body(
    parameters: dict[str, Any],
    connection_body: list[tuple[str, str]],
    encoding: str,
    array_format: str,
) -> tuple[bytes | None, str]:
    """The HTTP Task's body and its default content type: RequestBody merged with the
    connection's body parameters (theirs win), as JSON or URL-encoded."""
    value = parameters.get("RequestBody")
    if connection_body:
        if isinstance(value, str):
            raise TaskCallFailed(
                errors.RUNTIME,
                "The RequestBody is a string and the connection has body parameters:"
                " they cannot be merged",
            )
        if value is not None and not isinstance(value, dict):
            raise _invalid("RequestBody", "must be an object to take the connection's parameters")
        value = {**(value or {}), **dict(connection_body)}
    if value is None:
        return None, ""
    if encoding == "URL_ENCODED":
        form = "application/x-www-form-urlencoded"
        if isinstance(value, str):
            return value.encode(), form
        pairs = _flatten(value, array_format, "RequestBody")
        return urlencode(pairs, quote_via=quote).encode(), form
    if isinstance(value, str):
        return value.encode(), "text/plain; charset=UTF-8"
    return to_json(value).encode(), "application/json; charset=UTF-8"


def _with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return url
    separator = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{separator}{urlencode(pairs, quote_via=quote)}"


def _execute_api_region(host: str | None) -> str | None:
    match = _EXECUTE_API_HOST.match(host or "")
    return match.group(1) if match else None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _data_limit(request: messages.IntegrationRequest) -> TaskCallFailed:
    return TaskCallFailed(
        errors.DATA_LIMIT_EXCEEDED,
        f"The state/task '{request.state_name}' returned a result with a size exceeding the"
        " maximum number of bytes service limit.",
    )


def _fetch_token(connection: Connection, deadline: float) -> _Token:
    """A new access token from the connection's token endpoint (client credentials)."""
    oauth = connection.parameters["OAuthParameters"]
    client = oauth["ClientParameters"]
    extra = oauth.get("OAuthHttpParameters", {})
    form = _override(
        [("grant_type", "client_credentials")], _pairs(extra.get("BodyParameters")), fold=False
    )
    method = oauth.get("HttpMethod", "POST")
    query = _pairs(extra.get("QueryStringParameters"))
    body: bytes | None = None
    headers = [
        ("Authorization", _basic(client["ClientID"], client["ClientSecret"])),
        ("Accept", "application/json"),
    ]
    if method == "GET":
        query = form + query
    else:
        body = urlencode(form, quote_via=quote).encode()
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    headers = _override(headers, _pairs(extra.get("HeaderParameters")), fold=True)
    url = _with_query(oauth["AuthorizationEndpoint"], query)
    failed = f"The connection '{connection.name}' could not be authorized"
    try:
        response = _send(_Request(method, url, headers, body), deadline, MAX_TOKEN_RESPONSE_BYTES)
    except _NoAnswer as no_answer:
        raise TaskCallFailed(CONNECTION_INVALID_STATE, f"{failed}: {no_answer}") from None
    except _TooLarge:
        raise TaskCallFailed(
            CONNECTION_INVALID_STATE, f"{failed}: the token endpoint's answer is too large"
        ) from None
    where = _safe_url(url)
    if not 200 <= response.status < 300:
        raise TaskCallFailed(
            CONNECTION_INVALID_STATE, f"{failed}: {where} answered {response.status}"
        )
    try:
        document = limits.loads(response.body.decode("utf-8"))
    except ValueError:
        document = None
    value = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(value, str) or not value:
        raise TaskCallFailed(
            CONNECTION_INVALID_STATE, f"{failed}: {where} answered no access_token"
        )
    assert isinstance(document, dict)
    lifetime = document.get("expires_in")
    try:
        seconds = float(lifetime) if lifetime is not None else float("inf")
    except (TypeError, ValueError):
        seconds = float("inf")
    return _Token(value, time.monotonic() + seconds - TOKEN_MARGIN_SECONDS)
