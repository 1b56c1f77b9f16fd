"""Right answer: greet waits on a future that loop.call_later completes; double_result wraps
fetch() in a task and awaits that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def greet(name: str, delay: float = 0.0) -> str:
    """Wait `delay` seconds without blocking, then return "Hello, <name>!"."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    handle = loop.call_later(delay, done.set_result, None)
    try:
        await done
    finally:
        handle.cancel()
    return "Hello, " + name + "!"


async def double_result(fetch: Callable[[], Awaitable[int]]) -> int:
    """Call `fetch()` once, wait for the number it gives, and return twice that number."""
    task = asyncio.ensure_future(fetch())
    return 2 * await task


def main() -> str:
    """Plain (not async) code: run greet("world") on an event loop and return its result."""
    return asyncio.run(greet("world"))
