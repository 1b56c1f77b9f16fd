"""Right answer: checksum submits to a short-lived ThreadPoolExecutor and awaits
asyncio.wrap_future; brew waits with asyncio.wait_for on an event that never comes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    try:
        await asyncio.wait_for(asyncio.Event().wait(), timeout=seconds)
    except TimeoutError:
        pass
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return await asyncio.wrap_future(pool.submit(slow_hash, data))
    finally:
        pool.shutdown(wait=False)
