"""Mutant (blind review): greet polls in 0.1 s steps until delay has passed, overshooting short
delays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def greet(name: str, delay: float = 0.0) -> str:
    """Wait `delay` seconds without blocking, then return "Hello, <name>!"."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < delay:
        await asyncio.sleep(0.1)
    return f"Hello, {name}!"


async def double_result(fetch: Callable[[], Awaitable[int]]) -> int:
    """Call `fetch()` once, wait for the number it gives, and return twice that number."""
    value = await fetch()
    return value * 2


def main() -> str:
    """Plain (not async) code: run greet("world") on an event loop and return its result."""
    return asyncio.run(greet("world"))
