"""Mutant (blind review): main creates a new event loop and never closes it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def greet(name: str, delay: float = 0.0) -> str:
    """Wait `delay` seconds without blocking, then return "Hello, <name>!"."""
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


async def double_result(fetch: Callable[[], Awaitable[int]]) -> int:
    """Call `fetch()` once, wait for the number it gives, and return twice that number."""
    value = await fetch()
    return value * 2


def main() -> str:
    """Plain (not async) code: run greet("world") on an event loop and return its result."""
    loop = asyncio.new_event_loop()
    return loop.run_until_complete(greet("world"))
