"""The crash-loop breaker: a message that kills the process while being applied is not
applied a third time.

Before the service applies a batch of messages (or fires a timer) it writes their keys to a
marker file beside the store, and empties it afterwards. No fsync: the marker has to
survive the process, not the machine. A process that dies while applying (a segfault, the
kernel's OOM killer, an abort) leaves the marker behind, so the next process knows which
messages were in flight and counts a crash against each:

- a message that died in a batch with others, or alone once, is applied alone next time;
- a message that has killed the process twice while alone is dead-lettered on its next
  delivery, with the reason "crashed the orchestrator", instead of being applied again.

One death alone is not enough: an operator's ``kill -9`` (or the machine's OOM killer
choosing this process for another's sake) lands while some message is applied, alone when
the service is quiet, and that message must run again, not be set aside. So a poisonous
message is set aside on its third or fourth delivery, not after the broker's delivery limit
of twenty crashes. The counts live in a small file of their own, bounded in
size and age.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# Crash records older than this, or beyond this many, are forgotten.
KEEP_SECONDS = 7 * 24 * 3600.0
KEEP_RECORDS = 10_000
CRASHED = "crashed the orchestrator"


@dataclass
class Crashes:
    """What is known of one message: how often the process died applying it."""

    crashes: int = 0
    alone: int = 0  # of which while it was the only message being applied
    last: float = 0.0


def message_key(queue: str, body: bytes, properties: Mapping[str, Any]) -> str:
    """A key for a delivery that its redeliveries share (body and identifying properties)."""
    digest = hashlib.sha256(queue.encode())
    for name in sorted(properties):
        digest.update(f"\0{name}={properties[name]!r}".encode())
    digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()[:32]


class CrashGuard:
    """The marker of what is being applied, and the crashes counted from leftover markers."""

    def __init__(self, store_path: str | Path) -> None:
        base = str(store_path)
        self.enabled = base != ":memory:"
        self.marker = Path(base + ".applying")
        self.records_file = Path(base + ".crashes")
        self.records: dict[str, Crashes] = {}
        self._fd: int | None = None
        if self.enabled:
            self._recover()
            self._fd = os.open(self.marker, os.O_RDWR | os.O_CREAT, 0o644)

    def verdict(self, key: str) -> str:
        """``"apply"``, ``"alone"`` (apply it in a batch of its own) or ``"set aside"``."""
        record = self.records.get(key)
        if record is None:
            return "apply"
        return "set aside" if record.alone >= 2 else "alone"

    def reason(self, key: str) -> str:
        """The dead-letter reason for a message set aside."""
        record = self.records.get(key, Crashes())
        times = "once" if record.crashes == 1 else f"{record.crashes} times"
        return (
            f"{CRASHED}: the process died {times} while applying this message"
            " (it is not applied again)"
        )

    @contextlib.contextmanager
    def applying(self, keys: Iterable[str]) -> Iterator[None]:
        """Mark ``keys`` as being applied for the duration of the block."""
        keys = list(keys)
        if self._fd is None or not keys:
            yield
            return
        data = json.dumps({"keys": keys, "at": time.time()}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        try:
            yield
        finally:
            os.ftruncate(self._fd, 0)

    def survived(self, key: str) -> None:
        """A suspected message was applied alone without a crash: it is not poisonous."""
        if self.records.pop(key, None) is not None:
            self._save()

    def close(self) -> None:
        """Close the marker (empty: nothing is being applied)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _recover(self) -> None:
        """Count a crash against every key a previous process left in its marker."""
        self.records = self._load()
        try:
            left = json.loads(self.marker.read_bytes() or b"{}")
        except (OSError, ValueError):
            left = {}
        keys = (
            [k for k in left.get("keys", []) if isinstance(k, str)]
            if isinstance(left, dict)
            else []
        )
        now = time.time()
        for key in keys:
            record = self.records.setdefault(key, Crashes())
            record.crashes += 1
            record.alone += len(keys) == 1
            record.last = now
        if keys:
            log.error(
                "the previous process died while applying %d message(s); %s",
                len(keys),
                "each will be applied alone (one that dies alone twice is set aside)",
            )
        self._save()
        with contextlib.suppress(OSError):
            self.marker.write_bytes(b"")

    def _load(self) -> dict[str, Crashes]:
        try:
            raw = json.loads(self.records_file.read_bytes())
        except (OSError, ValueError):
            return {}
        records: dict[str, Crashes] = {}
        if isinstance(raw, dict):
            for key, value in raw.items():
                with contextlib.suppress(TypeError, ValueError):
                    records[str(key)] = Crashes(**value)
        return records

    def _save(self) -> None:
        cutoff = time.time() - KEEP_SECONDS
        kept = sorted(
            ((k, r) for k, r in self.records.items() if r.last >= cutoff),
            key=lambda item: item[1].last,
        )[-KEEP_RECORDS:]
        self.records = dict(kept)
        partial = self.records_file.with_name(self.records_file.name + ".partial")
        try:
            partial.write_text(json.dumps({k: asdict(r) for k, r in self.records.items()}))
            partial.replace(self.records_file)
        except OSError as exc:  # a full disk must not stop the service; counts stay in memory
            log.warning("could not save crash records to %s: %s", self.records_file, exc)
