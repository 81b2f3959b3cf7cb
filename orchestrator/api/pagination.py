"""Pagination tokens: opaque, tamper-evident, and good only for the query that issued them.

A ``nextToken`` carries the offset of the next page and an HMAC over that offset and the
query (the action and its filters) under a key drawn for the process. A token that was
altered, forged, or issued for another query (another action, state machine, execution,
status filter or order) is refused with AWS's ``InvalidToken`` answer, so an offset is never
negative nor taken from elsewhere. Tokens do not survive a restart; AWS's expire too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from orchestrator.api.errors import ApiError

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100
_MAC_BYTES = 16


def invalid_token() -> ApiError:
    """AWS's answer to a nextToken it did not issue for this query."""
    return ApiError("InvalidToken", "Invalid Token: 'Invalid token'")


class PageTokens:
    """Issues and checks the ``nextToken`` of every paginated action."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def page(
        self,
        items: Sequence[T],
        params: Mapping[str, Any],
        query: Mapping[str, Any],
        default: int = DEFAULT_PAGE_SIZE,
    ) -> tuple[list[T], str | None]:
        """One page of ``items`` for the request's maxResults/nextToken, and the next token.

        ``query`` names what the items were selected by (JSON-serialisable); a token is
        accepted only with the same query. maxResults 0 or absent means ``default``.
        """
        size = params.get("maxResults") or default
        token = params.get("nextToken")
        start = self._offset(token, query) if token else 0
        end = start + size
        following = self._token(end, query) if end < len(items) else None
        return list(items[start:end]), following

    def cursor(
        self, params: Mapping[str, Any], query: Mapping[str, Any], default: int = DEFAULT_PAGE_SIZE
    ) -> tuple[str | None, int]:
        """For an action that pages in its store: the position the request's nextToken
        carries (None: the first page) and the page size."""
        token = params.get("nextToken")
        position = self._payload(token, query).decode() if token else None
        return position, params.get("maxResults") or default

    def token(self, position: str, query: Mapping[str, Any]) -> str:
        """The nextToken of a page that goes on from ``position`` (see :meth:`cursor`)."""
        payload = position.encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload, query))}"

    def _token(self, offset: int, query: Mapping[str, Any]) -> str:
        payload = str(offset).encode()
        mac = self._mac(payload, query)
        return f"{_b64(payload)}.{_b64(mac)}"

    def _offset(self, token: str, query: Mapping[str, Any]) -> int:
        return int(self._payload(token, query))  # the MAC is ours, so these are our digits

    def _payload(self, token: str, query: Mapping[str, Any]) -> bytes:
        payload_text, _, mac_text = token.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise invalid_token() from None
        if not hmac.compare_digest(mac, self._mac(payload, query)):
            raise invalid_token()
        return payload

    def _mac(self, payload: bytes, query: Mapping[str, Any]) -> bytes:
        scope = json.dumps(query, sort_keys=True, separators=(",", ":")).encode()
        digest = hmac.new(self._key, scope + b"\n" + payload, hashlib.sha256).digest()
        return digest[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
