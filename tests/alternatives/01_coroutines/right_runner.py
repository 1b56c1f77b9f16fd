"""Right answer: sleep(result=...), 2 * await, and asyncio.Runner in main."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def greet(name: str, delay: float = 0.0) -> str:
    """Wait `delay` seconds without blocking, then return "Hello, <name>!"."""
    return await asyncio.sleep(delay, result=f"Hello, {name}!")


async def double_result(fetch: Callable[[], Awaitable[int]]) -> int:
    """Call `fetch()` once, wait for the number it gives, and return twice that number."""
    return 2 * await fetch()


def main() -> str:
    """Plain (not async) code: run greet("world") on an event loop and return its result."""
    with asyncio.Runner() as runner:
        return runner.run(greet("world"))
