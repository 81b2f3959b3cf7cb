"""The service's clock follows the system clock forwards and never runs backwards."""

from __future__ import annotations

import logging

import pytest

from orchestrator.service.clock import SteadyClock


class Clocks:
    """A wall clock a test can set, and a monotonic clock it advances."""

    def __init__(self) -> None:
        self.wall = 1_000_000.0
        self.mono = 50.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def test_it_follows_the_system_clock_while_that_runs_normally() -> None:
    clocks = Clocks()
    clock = SteadyClock(lambda: clocks.wall, lambda: clocks.mono)
    clocks.advance(2.5)
    assert clock.now() == 1_000_002.5
    clocks.wall += 3600  # a jump forwards is taken as it is
    assert clock.now() == 1_003_602.5


def test_a_jump_back_is_bridged_by_the_monotonic_clock(caplog: pytest.LogCaptureFixture) -> None:
    clocks = Clocks()
    clock = SteadyClock(lambda: clocks.wall, lambda: clocks.mono)
    assert clock.now() == 1_000_000.0
    clocks.wall -= 3600  # set back an hour
    clocks.mono += 1
    with caplog.at_level(logging.WARNING):
        assert clock.now() == 1_000_001.0
        clocks.advance(1)
        assert clock.now() == 1_000_002.0
    assert len([r for r in caplog.records if "went back" in r.message]) == 1
    # When the system clock is set right again (ahead of this one), it leads again.
    clocks.wall += 3610
    clocks.mono += 1
    assert clock.now() == clocks.wall


def test_datetimes_are_utc_and_never_decrease() -> None:
    clocks = Clocks()
    clock = SteadyClock(lambda: clocks.wall, lambda: clocks.mono)
    first = clock.datetime()
    clocks.wall -= 10
    second = clock.datetime()
    assert first.tzinfo is not None and second >= first
