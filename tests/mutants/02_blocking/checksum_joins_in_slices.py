"""Mutant: checksum joins the thread with a 10 ms timeout in a loop, blocking the loop in slices."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    results: list[str] = []
    worker = threading.Thread(target=lambda: results.append(slow_hash(data)))
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.01)
        await asyncio.sleep(0)
    return results[0]
