"""Mutant: checksum polls future.result(timeout=0.005), blocking the loop in short slices."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    await asyncio.sleep(seconds)
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(slow_hash, data)
        while True:
            try:
                return future.result(timeout=0.005)
            except concurrent.futures.TimeoutError:
                await asyncio.sleep(0)
