"""ARNs in the region a request is signed for, as LocalStack answers.

A client signs each request for a region (the credential scope of its ``Authorization``
header). This engine keeps one namespace, built for its configured region (``SFN_REGION``);
at the API's edge, the ARNs a request names in its signed region are read as the configured
region's, and the ARNs an answer names are given back in the signed region. So a client
configured for ``eu-west-1`` gets and uses ``arn:aws:states:eu-west-1:...`` ARNs throughout.
Only fields whose name ends in ``Arn`` are changed: inputs, outputs and definitions are the
user's data and are left as they are. An unsigned request uses the configured region.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]{1,40})/states/aws4_request")


def request_region(headers: Mapping[str, str], default: str) -> str:
    """The region the request is signed for, or ``default`` when it is not signed."""
    match = _SCOPE.search(headers.get("authorization", ""))
    return match.group(1) if match else default


def in_region(value: Any, source: str, target: str) -> Any:
    """``value`` with the Step Functions ARNs of its ``...Arn`` fields moved from region
    ``source`` to ``target`` (the rest as it is)."""
    if source == target:
        return value
    pattern = re.compile(rf"^(arn:[^:]+:states:){re.escape(source)}:")
    return _moved(value, pattern, rf"\g<1>{target}:")


def _moved(value: Any, pattern: re.Pattern[str], replacement: str) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                pattern.sub(replacement, item)
                if isinstance(item, str) and key.lower().endswith("arn")
                else _moved(item, pattern, replacement)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_moved(item, pattern, replacement) for item in value]
    return value
