"""Kata 02: blocking vs non-blocking. Read README.md, then fill in each TODO."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    # TODO: time.sleep would freeze every other coroutine; pause with
    # `await asyncio.sleep(seconds)` instead, then return the message.
    raise NotImplementedError("brew")


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    # TODO: slow_hash is plain, slow code you cannot change. Run it with
    # `await asyncio.to_thread(...)` so the event loop stays free meanwhile.
    raise NotImplementedError("checksum")
