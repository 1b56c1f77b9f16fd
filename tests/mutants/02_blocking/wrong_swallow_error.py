"""Mutant (blind review): checksum catches errors from slow_hash and returns an empty string."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    try:
        return await asyncio.to_thread(slow_hash, data)
    except Exception:
        return ""
