"""Mutant (blind review): checksum uses one shared single-thread executor, so concurrent checksums
run one after another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


_EXECUTOR = ThreadPoolExecutor(max_workers=1)


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, slow_hash, data)
