"""Which write-ahead log file RabbitMQ's quorum queues are writing, to tell a run that spanned
a rollover.

Every quorum queue of a node appends to one shared WAL. When it reaches
``raft.wal_max_size_bytes`` (512 MiB by default) the node starts the next file and writes the
entries still needed into per-queue segment files; meanwhile every queue's fsyncs wait behind
that burst of writes. On this 2-core VM a rollover stalls deliveries for about a second:
a 20-second run that contains one shows a p99 of 700 ms instead of 40-100 ms, on whichever
system it falls. At benchmark load the WAL fills in 10-20 minutes, so a long comparison
usually contains one. The WAL sits in the broker's data directory; where it cannot be read
(a broker in a container, say) a run's rollover is reported as unknown.
"""

from __future__ import annotations

import glob
import os

# RabbitMQ's default data directory, as the Debian package and the official image lay it out.
DEFAULT_PATTERN = "/var/lib/rabbitmq/mnesia/*/quorum/*/*.wal"


def current_wal(pattern: str = DEFAULT_PATTERN) -> dict[str, int | str] | None:
    """The WAL file being written (the highest-numbered): its name and size; None if unseen."""
    files = sorted(glob.glob(pattern), key=os.path.basename)
    if not files:
        return None
    newest = files[-1]
    try:
        size = os.path.getsize(newest)
    except OSError:  # rolled over and deleted between the listing and the look
        return None
    return {"file": os.path.basename(newest), "bytes": size}


def rolled_over(
    before: dict[str, int | str] | None, after: dict[str, int | str] | None
) -> bool | None:
    """Whether the broker started a new WAL file between two looks; None when unknown."""
    if before is None or after is None:
        return None
    return before["file"] != after["file"]
