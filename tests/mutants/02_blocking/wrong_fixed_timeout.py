"""Mutant (blind review): checksum wraps the thread call in a hard-coded 1 s timeout, failing
legitimately slow hashes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    return await asyncio.wait_for(asyncio.to_thread(slow_hash, data), timeout=1)
