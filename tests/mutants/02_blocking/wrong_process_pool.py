"""Mutant (blind review): checksum sends slow_hash to a process pool, which fails for unpicklable
(local/lambda) functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor() as pool:
        return await loop.run_in_executor(pool, slow_hash, data)
