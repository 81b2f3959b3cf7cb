"""A batch whose statements are done and whose COMMIT may run on another thread.

SQLite's COMMIT of a batch waits for its fsync (``synchronous=FULL``): under load the
orchestrator's event loop spent a tenth of its time there, neither reading deliveries nor
publishing the previous batch's outbox. A :class:`PendingCommit` lets the caller run that
COMMIT on a thread (SQLite releases the GIL while it syncs) while the loop goes on.

What keeps that safe: the store marks the commit in flight, and every use of its connection
from the loop's thread first waits for it and settles it (:meth:`PendingCommit.settle`),
so nothing reads or writes the database, or the cache, between a batch's last statement
and its COMMIT's end. Nothing a batch staged becomes visible before it is on disk, and a
failed COMMIT rolls back as a failed synchronous one does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class PendingCommit:
    """One batch's COMMIT: :meth:`commit` runs it (on any thread, once), :meth:`finish`
    settles it on the store's thread and raises its failure.

    ``run_commit`` executes the COMMIT; ``settled(error)`` puts the store back in order
    (the cache released on success; rolled back, with the transaction, on failure).
    """

    needs_commit = True

    def __init__(
        self, run_commit: Callable[[], None], settled: Callable[[BaseException | None], None]
    ) -> None:
        self._run_commit = run_commit
        self._settled = settled
        self._lock = threading.Lock()
        self._ran = False
        self._done = False
        self.error: BaseException | None = None

    def commit(self) -> None:
        """Run the COMMIT, unless it has run (any thread; never raises)."""
        with self._lock:
            if self._ran:
                return
            self._ran = True
            try:
                self._run_commit()
            except BaseException as exc:  # handed to finish(), on the store's thread
                self.error = exc

    def settle(self) -> None:
        """On the store's thread: wait for the COMMIT (running it here if no thread took
        it), then put the store in order. Idempotent; does not raise."""
        if self._done:
            return
        self.commit()  # waits on the lock while another thread commits
        self._done = True
        self._settled(self.error)

    def finish(self) -> None:
        """:meth:`settle`, then raise the COMMIT's failure (the batch was rolled back)."""
        self.settle()
        if self.error is not None:
            raise self.error


class CommittedBatch(PendingCommit):
    """A batch its store committed synchronously (a store that commits on its own thread)."""

    needs_commit = False

    def __init__(self) -> None:
        super().__init__(lambda: None, lambda _error: None)
        self.settle()
