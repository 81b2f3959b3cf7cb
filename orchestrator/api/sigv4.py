"""Verification of AWS Signature Version 4 on incoming requests to the Step Functions API.

boto3, the AWS CLI and the other SDKs sign every request with SigV4 (header-based,
``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``).
:func:`verify` recomputes that signature from what arrived at the server and the secret
key it belongs to, exactly as the signer computed it, and raises :class:`AuthFailure`
(carrying the error type and message AWS itself returns, served as HTTP 403 with
``{"__type": code, "message": message}``) when it does not match.

The function is pure: no I/O, and the current time is a parameter.

Reference: "Create a signed AWS API request" in the IAM user guide, and botocore's
``SigV4Auth``, which is what boto3 and the AWS CLI run.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

__all__ = ["ALGORITHM", "AuthFailure", "Credentials", "verify"]

ALGORITHM = "AWS4-HMAC-SHA256"
_TERMINATOR = "aws4_request"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

# Error types, as AWS JSON-protocol services name them.
MISSING_TOKEN = "MissingAuthenticationTokenException"
INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@dataclass(frozen=True)
class Credentials:
    """An access key pair the API accepts."""

    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class AuthFailure(Exception):
    """The request is not validly signed; ``code`` is AWS's error type (HTTP 403)."""

    code: str
    message: str

    def __post_init__(self) -> None:
        Exception.__init__(self, self.code, self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def verify(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    now: datetime,
    *,
    service: str = "states",
    region: str | None = None,
    max_skew_seconds: int = 300,
) -> None:
    """Check that the request is validly SigV4-signed with ``credentials``.

    ``path`` and ``query`` are the raw (still percent-encoded) path and query string of
    the request line; ``headers`` are the request headers, names in any case; ``body``
    is the raw body. ``now`` is the server's current time (a naive value is taken as
    UTC). The credential scope must name ``service`` and, when given, ``region`` (any
    region otherwise). Raises :class:`AuthFailure` when the request is not validly signed.
    """
    lower = _lower_headers(headers)

    authorization = lower.get("authorization", "").strip()
    if not authorization:
        raise AuthFailure(MISSING_TOKEN, "Missing Authentication Token")
    credential, signed_header_names, signature = _parse_authorization(authorization, lower)

    request_time, timestamp, date_header = _request_time(lower, authorization)

    # Credential scope: <key id>/<yyyymmdd>/<region>/<service>/aws4_request.
    scope_parts = credential.split("/")
    if len(scope_parts) != 5:
        raise AuthFailure(
            INCOMPLETE_SIGNATURE,
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'",
        )
    access_key_id, scope_date, scope_region, scope_service, terminator = scope_parts
    if terminator != _TERMINATOR:
        raise AuthFailure(
            INVALID_SIGNATURE,
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', "
            f"not '{terminator}'.",
        )
    if scope_service != service:
        raise AuthFailure(
            INVALID_SIGNATURE, f"Credential should be scoped to correct service: '{service}'."
        )
    if not scope_region:
        raise AuthFailure(INVALID_SIGNATURE, "Credential should be scoped to a valid region.")
    if region is not None and scope_region != region:
        # AWS's words, trailing space included.
        raise AuthFailure(
            INVALID_SIGNATURE,
            f"Credential should be scoped to a valid region, not '{scope_region}'. ",
        )
    if scope_date != timestamp[:8]:
        raise AuthFailure(
            INVALID_SIGNATURE,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{timestamp[:8]}', from '{date_header}'.",
        )

    _check_skew(request_time, now, max_skew_seconds)

    if not hmac.compare_digest(
        access_key_id.encode("utf-8"), credentials.access_key_id.encode("utf-8")
    ):
        raise AuthFailure(
            UNRECOGNIZED_CLIENT, "The security token included in the request is invalid."
        )

    payload_hash = _sha256_hex(body)
    declared_hash = lower.get("x-amz-content-sha256")
    if declared_hash is not None:
        # The signer put the header's value in its canonical request. It must be the
        # body's hash: UNSIGNED-PAYLOAD would leave the body unprotected over plain HTTP,
        # and no SDK sends it to this service.
        if declared_hash.strip().lower() != payload_hash:
            raise AuthFailure(
                INVALID_SIGNATURE,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        payload_hash = declared_hash.strip()

    canonical_request = "\n".join(
        [
            method.upper(),
            _canonical_uri(path),
            _canonical_query(query),
            "".join(
                f"{name}:{_trim_all(lower.get(name.lower(), ''))}\n" for name in signed_header_names
            ),
            ";".join(signed_header_names),
            payload_hash,
        ]
    )
    scope = f"{scope_date}/{scope_region}/{scope_service}/{terminator}"
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, scope, _sha256_hex(canonical_request.encode("utf-8"))]
    )
    key = _signing_key(credentials.secret_access_key, scope_date, scope_region, scope_service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
        raise AuthFailure(INVALID_SIGNATURE, _SIGNATURE_MISMATCH)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lower-cased; names repeated in different cases are joined with commas."""
    lower: dict[str, str] = {}
    for name, value in headers.items():
        key = name.strip().lower()
        lower[key] = f"{_trim_all(lower[key])},{_trim_all(value)}" if key in lower else value
    return lower


def _parse_authorization(
    authorization: str, lower: Mapping[str, str]
) -> tuple[str, list[str], str]:
    """Credential, signed header names and signature from an ``Authorization`` header."""
    scheme, _, rest = authorization.partition(" ")
    if scheme != ALGORITHM:
        if scheme.startswith("AWS4-"):
            raise AuthFailure(INCOMPLETE_SIGNATURE, f"Unsupported AWS 'algorithm': '{scheme}'.")
        # Not a SigV4 header at all (Bearer, Basic, SigV2...): everything is missing.
        raise AuthFailure(
            INCOMPLETE_SIGNATURE,
            _missing_parameters(["Credential", "Signature", "SignedHeaders"], lower)
            + f"Authorization={authorization}",
        )

    params: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals:
            raise AuthFailure(
                INCOMPLETE_SIGNATURE,
                f"'{part}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{authorization}'.",
            )
        name = name.strip()
        if name in params:
            raise AuthFailure(
                INCOMPLETE_SIGNATURE,
                f"Authorization header has a repeated '{name}' parameter: '{authorization}'.",
            )
        params[name] = value.strip()

    missing = [p for p in ("Credential", "Signature", "SignedHeaders") if not params.get(p)]
    if missing or not _has_date(lower):
        raise AuthFailure(
            INCOMPLETE_SIGNATURE,
            _missing_parameters(missing, lower) + f"Authorization={authorization}",
        )

    # Used in the order given: that is the order the client's canonical request has
    # (every SDK sorts them, as the specification requires).
    signed_header_names = params["SignedHeaders"].split(";")
    if not all(signed_header_names):
        raise AuthFailure(
            INCOMPLETE_SIGNATURE,
            f"SignedHeaders must be header names separated by ';', got '{params['SignedHeaders']}'.",
        )
    if "host" not in (name.lower() for name in signed_header_names):
        raise AuthFailure(
            INVALID_SIGNATURE,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    return params["Credential"], signed_header_names, params["Signature"]


def _has_date(lower: Mapping[str, str]) -> bool:
    return bool(lower.get("x-amz-date", "").strip() or lower.get("date", "").strip())


def _missing_parameters(missing: list[str], lower: Mapping[str, str]) -> str:
    text = "".join(f"Authorization header requires '{name}' parameter. " for name in missing)
    if not _has_date(lower):
        text += (
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    return text


def _request_time(lower: Mapping[str, str], authorization: str) -> tuple[datetime, str, str]:
    """The signing time (aware, UTC), its ISO-8601 basic form, and the header it came from."""
    amz_date = lower.get("x-amz-date", "").strip()
    if amz_date:
        try:
            parsed = datetime.strptime(amz_date, _AMZ_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise AuthFailure(
                INCOMPLETE_SIGNATURE,
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
                "See http://en.wikipedia.org/wiki/ISO_8601",
            ) from None
        return parsed, amz_date, "X-Amz-Date"

    date = lower.get("date", "").strip()
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise AuthFailure(
            INCOMPLETE_SIGNATURE,
            f"Date must be in RFC 1123 format (as an HTTP 'Date' header). Got '{date}'. "
            f"Authorization={authorization}",
        ) from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed, parsed.strftime(_AMZ_DATE_FORMAT), "Date"


def _check_skew(request_time: datetime, now: datetime, max_skew_seconds: int) -> None:
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    skew = timedelta(seconds=max_skew_seconds)
    if max_skew_seconds % 60 == 0:
        window = f"{max_skew_seconds // 60} min."
    else:
        window = f"{max_skew_seconds} sec."
    stamp = request_time.strftime(_AMZ_DATE_FORMAT)
    if request_time < now - skew:
        raise AuthFailure(
            INVALID_SIGNATURE,
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - skew).strftime(_AMZ_DATE_FORMAT)} "
            f"({now.strftime(_AMZ_DATE_FORMAT)} - {window})",
        )
    if request_time > now + skew:
        raise AuthFailure(
            INVALID_SIGNATURE,
            f"Signature not yet current: {stamp} is still later than "
            f"{(now + skew).strftime(_AMZ_DATE_FORMAT)} "
            f"({now.strftime(_AMZ_DATE_FORMAT)} + {window})",
        )


def _canonical_uri(path: str) -> str:
    """The raw path with dot segments and empty segments removed, URI-encoded once more.

    The raw path is already encoded once by the client, so this yields the "encode each
    segment twice" form AWS specifies for every service but S3 (what botocore computes).
    """
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    normalised = ("/" if path.startswith("/") else "") + "/".join(segments)
    if path.endswith("/") and segments:
        normalised += "/"
    return quote(normalised, safe="/~")


def _canonical_query(query: str) -> str:
    """Parameters decoded, re-encoded per RFC 3986, sorted by name then value."""
    pairs: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        pairs.append((_uri_encode(unquote(name)), _uri_encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _trim_all(value: str) -> str:
    """Leading/trailing whitespace removed, inner runs of whitespace collapsed to one space."""
    return " ".join(value.split())


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_access_key}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, _TERMINATOR)
