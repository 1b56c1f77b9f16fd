"""Mutant (blind review): checksum caches results by data only, returning stale hashes for a
different slow_hash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


_cache: dict[bytes, str] = {}


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    if data not in _cache:
        _cache[data] = await asyncio.to_thread(slow_hash, data)
    return _cache[data]
