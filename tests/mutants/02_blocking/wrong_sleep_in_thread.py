"""Mutant (blind review): brew runs time.sleep in a worker thread, so many brews queue behind the
thread pool size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.to_thread(time.sleep, seconds)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    return await asyncio.to_thread(slow_hash, data)
