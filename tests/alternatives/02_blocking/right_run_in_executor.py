"""Right answer: loop.run_in_executor with the default executor, sleep(result=...)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    return await asyncio.sleep(seconds, result=f"{name} ready")


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, slow_hash, data)
