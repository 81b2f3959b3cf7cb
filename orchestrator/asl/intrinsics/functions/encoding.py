"""Encoding and hashing: States.Base64Encode, States.Base64Decode and States.Hash.

Inputs longer than 10,000 characters (Java's UTF-16 count) are refused, as AWS documents.
"""

from __future__ import annotations

import base64
import hashlib
import random
from typing import Any

from orchestrator.asl.intrinsics import java
from orchestrator.asl.intrinsics.spec import ANY, STRING, InvalidArguments, function

MAX_INPUT_CHARACTERS = 10_000
HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


def _checked_length(text: str) -> str:
    if java.utf16_length(text) > MAX_INPUT_CHARACTERS:
        raise InvalidArguments
    return text


@function("States.Base64Encode", STRING)
def _base64_encode(args: list[Any], rng: random.Random, static: Any) -> str:
    data = _checked_length(args[0]).encode("utf-8", "surrogatepass")
    return base64.b64encode(data).decode("ascii")


@function("States.Base64Decode", STRING)
def _base64_decode(args: list[Any], rng: random.Random, static: Any) -> str:
    """A lenient decoder, as AWS's: characters outside the alphabet are skipped, the first
    ``=`` ends the data, and a short last group gives the bytes it holds (AWS decodes
    ``"abc"`` and ``" YWJjZA== "``). The bytes are read as UTF-8."""
    text = _checked_length(args[0])
    symbols = "".join(char for char in text.split("=", 1)[0] if char in _BASE64_ALPHABET)
    symbols = symbols.replace("-", "+").replace("_", "/")
    if len(symbols) % 4 == 1:
        symbols = symbols[:-1]  # a lone last symbol holds less than a byte
    data = base64.b64decode(symbols + "=" * (-len(symbols) % 4))
    return data.decode("utf-8", "replace")


@function("States.Hash", ANY, STRING)
def _hash(args: list[Any], rng: random.Random, static: Any) -> str:
    """The hex digest of the data's UTF-8 text; data that is not a string is hashed in its
    printed form (AWS accepts ``States.Hash(123, 'SHA-256')``)."""
    data, algorithm = args
    name = HASH_ALGORITHMS.get(algorithm)
    if name is None:
        raise InvalidArguments  # the names are exact: 'sha-256' and 'SHA256' are refused
    text = _checked_length(java.to_string(data))
    return hashlib.new(name, text.encode("utf-8", "surrogatepass")).hexdigest()
