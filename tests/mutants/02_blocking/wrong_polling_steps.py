"""Mutant (blind review): brew polls in 0.1 s steps, int(seconds / 0.1) times, so it under-waits
non-multiples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    for _ in range(int(seconds / 0.1)):
        await asyncio.sleep(0.1)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    return await asyncio.to_thread(slow_hash, data)
