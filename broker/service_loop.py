"""Running a service's event loop: on uvloop when installed, with the startup heap frozen.

Shared by the orchestrator and the workers, whose latency is what their event loop lets
through.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any


def run_service_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` to completion: uvloop when installed, else asyncio's own loop.

    Everything imported and built before serving (modules, pydantic's validators, the loaded
    definitions: tens of thousands of objects) lives as long as the process. A full
    collection walks all of it, which stalled the loop for 100-200 ms on a 2-core VM and was
    the p99 of the call-center benchmark; frozen, the collector skips it.
    """
    gc.collect()
    gc.freeze()
    try:
        import uvloop  # less event-loop overhead per message
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)
