"""Right answer: checksum runs slow_hash on a module-level ThreadPoolExecutor shared across calls,
through loop.run_in_executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hashing")


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(POOL, slow_hash, data)
