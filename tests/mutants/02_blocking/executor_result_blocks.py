"""Mutant: runs slow_hash in a thread pool but blocks the loop on future.result()."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    with ThreadPoolExecutor() as pool:
        return pool.submit(slow_hash, data).result()
