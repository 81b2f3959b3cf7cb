"""Checkpointing the store's write-ahead log from a thread, off the event loop.

SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages: that
commit copies about 4 MiB back into the database file and syncs it, 15-20 ms during which
the event loop serves nothing. A step writes about a dozen pages, so this happened every
~80 steps and set the p99 of a step at low load. Here a thread of its own, on its own
connection, runs PASSIVE checkpoints instead; they never block the writer, and SQLite
releases the GIL while it copies and syncs.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Keeps the WAL of the database at ``path`` short while the store writes to it."""

    def __init__(
        self, path: str, *, every_seconds: float = 1.0, long_wal_pages: int = 8_192
    ) -> None:
        self.path = path
        # Each round copies every page changed since the last one and syncs the database
        # file: rarer rounds copy a hot page (an index leaf, the outbox) once for many
        # commits, and sync less often beside the broker's fsyncs.
        self.every_seconds = every_seconds
        # Under sustained load a commit overtakes every checkpoint of this thread, so the WAL
        # is never rewound. Past this length (16 MiB of 2 KiB pages) the thread asks the
        # writer to finish the job (see :meth:`catch_up`).
        self.long_wal_pages = long_wal_pages
        self.needs_catch_up = False
        self.rounds = 0  # rounds finished, failed ones too: a pace that does not depend on time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)

    def start(self) -> None:
        """Start checkpointing every ``every_seconds``."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the store's last close checkpoints what is left)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def catch_up(self, writer: sqlite3.Connection) -> None:
        """Called by the writer between transactions: when asked, checkpoint on its connection.

        No commit can overtake a checkpoint run by the only writer, so this one gets every
        page, and the next commit rewinds the WAL. The thread copied all but the newest
        pages already, so this costs the writer little.
        """
        if self.needs_catch_up:
            self.needs_catch_up = False
            writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            failing = 0  # rounds failed in a row: logged at the first, then every minute
            while not self._stop.wait(self.every_seconds):
                try:
                    if checkpoint(db) > self.long_wal_pages:
                        self.needs_catch_up = True
                except sqlite3.Error as exc:  # the next round retries; the writer is unaffected
                    if failing % 60 == 0:
                        log.warning(
                            "checkpointing %s failed (%d round(s) in a row): %s",
                            self.path,
                            failing + 1,
                            exc,
                        )
                    failing += 1
                else:
                    if failing:
                        log.warning("checkpointing %s works again", self.path)
                    failing = 0
                self.rounds += 1
        finally:
            db.close()


def checkpoint(db: sqlite3.Connection) -> int:
    """Copy the WAL into the database; returns the WAL's length in pages.

    SQLite rewinds the WAL at the next write only if the checkpoint got every page in it,
    so a checkpoint that a commit overtook is followed by another one for the few pages
    that commit added. ``fetchall`` runs each statement to its end, so the thread holds no
    statement open between rounds.
    """
    previous = -1
    pages = 0
    for _ in range(5):
        ((_busy, pages, _copied),) = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        if pages in (0, previous):  # empty, or nothing written since the last round
            break
        previous = pages
    return int(pages)
