"""Task tokens and timer ids, derived from the execution's secret so that none can be guessed.

The shell draws an unguessable ``token_prefix`` for each execution; it stays in the stored
state and never appears in a token, the context object, the history or an output. A task
token is the first 128 bits of HMAC-SHA256 of the task's sequence number under that secret,
in hex, then ``.`` and the number: anyone who sees one token learns nothing about the next
task's, yet ``step`` stays pure and deterministic. The shape (32 hex digits, a dot, a number)
is the one tokens always had, so tokens stored by running executions in the old form
(``<prefix>.<n>``) keep working: the state maps each token it issued to its thread.

Timer ids are internal (the shell's timer rows), unique per execution: a key derived from the
secret the same way, then ``.t<n>`` (or ``.c<n>`` for a step's continuation).
"""

from __future__ import annotations

import functools
import hashlib
import hmac


def _digest(secret: str, message: str) -> str:
    # hmac.digest: the one-shot C function (one call per task dispatched).
    return hmac.digest(secret.encode(), message.encode(), hashlib.sha256).hex()[:32]


def task_token(secret: str, seq: int) -> str:
    """The token of the task numbered ``seq`` in the execution with ``secret``."""
    return f"{_digest(secret, f'task:{seq}')}.{seq}"


@functools.lru_cache(maxsize=1024)
def timer_key(secret: str) -> str:
    """The execution's prefix of timer ids (not the secret itself)."""
    return _digest(secret, "timers")
