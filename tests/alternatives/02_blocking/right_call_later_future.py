"""Right answer: a future resolved by loop.call_later, and to_thread with functools.partial."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    handle = loop.call_later(seconds, lambda: done.done() or done.set_result(None))
    try:
        await done
    finally:
        handle.cancel()
    return f"{name} ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    return await asyncio.to_thread(functools.partial(slow_hash, data))
