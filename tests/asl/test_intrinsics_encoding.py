"""States.Base64Encode, States.Base64Decode and States.Hash."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asl.intrinsics_support import invalid, run


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("", ""),
        ("Data to encode", "RGF0YSB0byBlbmNvZGU="),
        ("✓", "4pyT"),
        ("こんにちは", "44GT44KT44Gr44Gh44Gv"),
        ("abc\x00def", "YWJjAGRlZg=="),
        ("🚀", "8J+agA=="),
    ],
)
def test_base64_round_trip(text: str, encoded: str) -> None:
    assert run("States.Base64Encode($.s)", {"s": text}) == encoded
    assert run("States.Base64Decode($.s)", {"s": encoded}) == text
    assert run("States.Base64Decode(States.Base64Encode($.s))", {"s": text}) == text


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("YWJj", "abc"),
        ("abc", "i\ufffd"),  # a short last group gives its bytes (AWS decodes it)
        (" YWJjZA== ", "abcd"),  # characters outside the alphabet are skipped
        ("YWJjZA==YWJj", "abcd"),  # the padding ends the data
    ],
)
def test_base64_decode_is_lenient(encoded: str, decoded: str) -> None:
    assert run("States.Base64Decode($.s)", {"s": encoded}) == decoded


@pytest.mark.parametrize("function", ["States.Base64Encode", "States.Base64Decode"])
def test_base64_limits_and_kinds(function: str) -> None:
    assert run(f"{function}($.s)", {"s": "A" * 10_000}) is not None
    for value in ("A" * 10_001, 123, {}, ["x"], None):
        assert invalid(f"{function}($.s)", {"s": value}) == f"Invalid arguments in {function}"


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
        (
            "SHA-384",
            "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
        ),
        (
            "SHA-512",
            "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
        ),
    ],
)
def test_hash_recorded_on_aws(algorithm: str, digest: str) -> None:
    assert run("States.Hash($.d, $.a)", {"d": "input data", "a": algorithm}) == digest


def test_hash_of_unicode_and_of_values_that_are_not_strings() -> None:
    assert run("States.Hash('✓', 'SHA-256')") == (
        "1dabba21cdad44541f6b15796f8d22978fc7ea10c46aeceeeeb66c23b3ac7604"
    )
    assert run("States.Hash(123, 'MD5')") == run("States.Hash('123', 'MD5')")


@pytest.mark.parametrize(
    ("data", "algorithm"),
    [
        ("data", "sha-256"),
        ("data", "SHA256"),
        ("data", "MD-5"),
        ("data", ""),
        ("data", 123),
        ("a" * 10_001, "SHA-256"),
    ],
)
def test_hash_invalid_arguments(data: Any, algorithm: Any) -> None:
    cause = invalid("States.Hash($.d, $.a)", {"d": data, "a": algorithm})
    assert cause == "Invalid arguments in States.Hash"


def test_hash_accepts_10000_characters() -> None:
    assert len(run("States.Hash($.d, 'SHA-256')", {"d": "a" * 10_000})) == 64
