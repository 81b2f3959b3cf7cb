"""The service's clock: wall-clock time that never runs backwards while the process lives.

Timers are stored as wall-clock deadlines (they must survive a restart), and history shows
wall-clock times. If the system clock is set back (an NTP step, a VM resumed, a person),
plain wall time would hold every Wait, backoff and timeout back by the jump, and write
history timestamps out of order. This clock follows the system clock forwards, and when the
system clock goes back it keeps counting from where it was at the monotonic clock's pace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger(__name__)
# A step back smaller than this is jitter, not worth a log line.
NOTICE_SECONDS = 1.0


class SteadyClock:
    """``now()`` in epoch seconds: the system clock, but never less than a moment ago."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._lock = threading.Lock()  # the API's and the timers' callers share it
        self._last = wall()
        self._last_mono = monotonic()
        self._behind = False  # the system clock is behind this one (logged once per jump)

    def now(self) -> float:
        """The current time in epoch seconds; never earlier than a previous answer."""
        with self._lock:
            wall, mono = self._wall(), self._monotonic()
            steady = self._last + max(mono - self._last_mono, 0.0)
            if steady - wall > NOTICE_SECONDS and not self._behind:
                log.warning(
                    "the system clock went back %.1f s; timers and history keep counting"
                    " from this process's time until the system clock catches up",
                    steady - wall,
                )
                self._behind = True
            elif wall >= steady:
                self._behind = False
            self._last = max(wall, steady)
            self._last_mono = mono
            return self._last

    def datetime(self) -> datetime:
        """:meth:`now` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)
