"""Logging of the service processes (orchestrator and workers): ``LOG_LEVEL``, one format.

aio-pika and aiormq log reconnect chatter at INFO; our own lines (including the one per
retry period while RabbitMQ is down) are the ones worth reading, so theirs start at WARNING
unless ``LOG_LEVEL=DEBUG`` asks for everything.
"""

from __future__ import annotations

import logging
import os
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_level() -> str:
    """``LOG_LEVEL`` (default ``INFO``), upper-cased; ``ValueError`` naming the valid ones."""
    value = os.environ.get("LOG_LEVEL") or "INFO"
    level = value.strip().upper()
    if level not in LEVELS:
        raise ValueError(f"LOG_LEVEL {value!r} is not one of {', '.join(LEVELS)}")
    return level


def configure_logging(level: str) -> None:
    """Send log lines at ``level`` (one of :data:`LEVELS`, as :func:`log_level` gives it)
    and above to stderr."""
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr, force=True)
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for chatty in ("aio_pika", "aiormq"):
        logging.getLogger(chatty).setLevel(quiet)
