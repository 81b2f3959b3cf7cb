"""The services' event loop: uvloop, and a startup heap the garbage collector no longer walks."""

from __future__ import annotations

import asyncio
import gc

from broker.service_loop import run_service_loop


def test_services_serve_on_uvloop_with_their_startup_heap_frozen() -> None:
    seen: dict[str, object] = {}

    async def serve() -> None:
        seen["frozen"] = gc.get_freeze_count()
        seen["loop"] = type(asyncio.get_running_loop()).__module__

    before = gc.get_freeze_count()
    try:
        run_service_loop(serve())
    finally:
        gc.unfreeze()
    assert before == 0
    # Everything this test process had imported is frozen before the service starts.
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000
    assert str(seen["loop"]).startswith("uvloop")
