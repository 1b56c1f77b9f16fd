"""Right answer: asyncio.wait_for with no timeout, and a wrapper coroutine for main."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def greet(name: str, delay: float = 0.0) -> str:
    """Wait `delay` seconds without blocking, then return "Hello, <name>!"."""
    message = "Hello, " + name + "!"
    await asyncio.wait_for(asyncio.sleep(delay), timeout=None)
    return message


async def double_result(fetch: Callable[[], Awaitable[int]]) -> int:
    """Call `fetch()` once, wait for the number it gives, and return twice that number."""
    value: int = await asyncio.wait_for(fetch(), timeout=None)
    return value + value


def main() -> str:
    """Plain (not async) code: run greet("world") on an event loop and return its result."""

    async def _entry() -> str:
        return await greet("world")

    return asyncio.run(_entry())
