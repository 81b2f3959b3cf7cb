"""Pagination tokens: opaque, tamper-evident, tied to their query (no server needed)."""

from __future__ import annotations

import base64

import pytest

from orchestrator.api.errors import ApiError
from orchestrator.api.pagination import PageTokens

ITEMS = list(range(25))
QUERY = {"action": "ListExecutions", "stateMachine": "M", "status": None}


def invalid(tokens: PageTokens, token: str, query: dict[str, object] = QUERY) -> ApiError:
    with pytest.raises(ApiError) as caught:
        tokens.page(ITEMS, {"nextToken": token}, query)
    return caught.value


def test_pages_follow_each_other_to_the_end() -> None:
    tokens = PageTokens()
    seen: list[int] = []
    params: dict[str, object] = {"maxResults": 10}
    while True:
        page, following = tokens.page(ITEMS, params, QUERY)
        seen.extend(page)
        if following is None:
            break
        params = {"maxResults": 10, "nextToken": following}
    assert seen == ITEMS


def test_max_results_zero_or_absent_is_the_default_page_size() -> None:
    tokens = PageTokens()
    assert tokens.page(ITEMS, {"maxResults": 0}, QUERY, default=7)[0] == ITEMS[:7]
    assert tokens.page(ITEMS, {}, QUERY, default=30) == (ITEMS, None)


def test_a_token_of_another_query_is_awss_invalid_token() -> None:
    tokens = PageTokens()
    _, token = tokens.page(ITEMS, {"maxResults": 5}, QUERY)
    assert token is not None
    for other in (
        {**QUERY, "status": "FAILED"},
        {**QUERY, "stateMachine": "Other"},
        {**QUERY, "action": "GetExecutionHistory"},
    ):
        error = invalid(tokens, token, other)
        assert (error.type, error.message) == ("InvalidToken", "Invalid Token: 'Invalid token'")


def test_tampered_forged_or_foreign_tokens_are_refused() -> None:
    tokens = PageTokens()
    _, token = tokens.page(ITEMS, {"maxResults": 5}, QUERY)
    assert token is not None
    payload, _, mac = token.partition(".")
    forged_offset = base64.urlsafe_b64encode(b"-5").decode().rstrip("=")
    for bad in (
        f"{forged_offset}.{mac}",  # a negative offset with the old MAC
        base64.urlsafe_b64encode(b"-1").decode(),  # the old form of token
        f"{payload}.{mac[:-2]}AA",
        f"{payload}.",
        "not a token at all",
        "é",
    ):
        assert invalid(tokens, bad).type == "InvalidToken", bad
    assert invalid(PageTokens(), token).type == "InvalidToken"  # another process's key


def test_a_token_past_the_end_of_a_shrunken_list_gives_an_empty_page() -> None:
    tokens = PageTokens()
    _, token = tokens.page(ITEMS, {"maxResults": 20}, QUERY)
    assert tokens.page(ITEMS[:10], {"nextToken": token}, QUERY) == ([], None)
