"""Kata 01: coroutines and the event loop. Read README.md, then fill in each TODO."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def greet(name: str, delay: float = 0.0) -> str:
    """Wait `delay` seconds without blocking, then return "Hello, <name>!"."""
    # TODO: pause with `await asyncio.sleep(delay)`, then return the greeting.
    raise NotImplementedError("greet")


async def double_result(fetch: Callable[[], Awaitable[int]]) -> int:
    """Call `fetch()` once, wait for the number it gives, and return twice that number."""
    # TODO: calling fetch() only creates a coroutine; await it to get the number.
    raise NotImplementedError("double_result")


def main() -> str:
    """Plain (not async) code: run greet("world") on an event loop and return its result."""
    # TODO: plain code enters async code through asyncio.run(...).
    raise NotImplementedError("main")
