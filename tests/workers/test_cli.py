"""The ``python -m workers`` command line, for what needs no broker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer

from workers.__main__ import resolve


@pytest.mark.parametrize(
    ("name", "expected"),
    [("open", "OpenCaseFunction"), ("work", "WorkOnCaseFunction"), ("CloseCaseFunction",) * 2],
)
def test_short_and_full_names_resolve(name: str, expected: str) -> None:
    assert resolve(name).name == expected


def test_unknown_function_name_exits_2_listing_valid_names() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workers", "reopen"],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 2
    assert "reopen" in done.stderr
    for name in ("open", "assign", "work", "close", "escalate", "OpenCaseFunction"):
        assert name in done.stderr


def test_unknown_name_is_a_bad_parameter() -> None:
    with pytest.raises(typer.BadParameter, match="valid names: open, assign"):
        resolve("reopen")
