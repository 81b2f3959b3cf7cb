"""Telling every replica which executions changed: PostgreSQL's LISTEN/NOTIFY.

A replica's web console streams an execution's page from the changes its own engine commits
(:class:`orchestrator.console.live.Changes`). With several replicas, another one may step
that execution, so the PostgreSQL store sends the ARNs each transaction stepped on channel
:data:`CHANGES_CHANNEL` with its commit (delivered only if it commits), and
:class:`ChangeListener`, a thread of each replica, passes those it hears to its console.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator

import psycopg

log = logging.getLogger(__name__)
CHANGES_CHANNEL = "sfn_changes"
# PostgreSQL refuses a payload of 8,000 bytes or more: ARNs go in several under that.
MAX_PAYLOAD = 7_000
# How often the listener looks up from waiting (to see that it is to stop).
POLL_SECONDS = 1.0


def notification_payloads(arns: Iterable[str]) -> Iterator[str]:
    """The ARNs as newline-separated payloads, each under PostgreSQL's limit."""
    batch: list[str] = []
    size = 0
    for arn in sorted(arns):
        if batch and size + len(arn) + 1 > MAX_PAYLOAD:
            yield "\n".join(batch)
            batch, size = [], 0
        batch.append(arn)
        size += len(arn) + 1
    if batch:
        yield "\n".join(batch)


class ChangeListener:
    """Listens on :data:`CHANGES_CHANNEL` in a thread and calls ``notify(arn)`` for each
    execution another replica (or this one) stepped. A lost connection is opened again."""

    def __init__(self, url: str, notify: Callable[[str], None]) -> None:
        self.url = url
        self.notify = notify
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sfn-changes", daemon=True)

    def start(self) -> None:
        """Start listening."""
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (within :data:`POLL_SECONDS`)."""
        self._stop.set()
        self._thread.join(timeout=POLL_SECONDS * 3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANGES_CHANNEL}")
                    while not self._stop.is_set():
                        for note in connection.notifies(timeout=POLL_SECONDS):
                            for arn in note.payload.split("\n"):
                                if arn:
                                    self.notify(arn)
            except psycopg.Error as exc:  # the server restarted: listen again shortly
                log.warning("listening for other replicas' changes failed: %s", exc)
                self._stop.wait(POLL_SECONDS)
