"""Mutant: RateLimiter lets one caller through every 1/per_second seconds instead of
per_second at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


async def map_limited(
    fetch: Callable[[K], Awaitable[T]], items: Sequence[K], limit: int
) -> list[T | Exception]:
    """Call `fetch(item)` for every item, with at most `limit` calls running at any moment.

    Keep every slot busy: whenever a call finishes, the next waiting item starts at once,
    so `limit` calls are running for as long as there are items left to start.

    The results line up with `items` (the first result is for items[0], and so on). A
    fetch that raises an exception does not stop the others: the exception object takes
    its place in the list, and its slot goes to the next item. Every call of map_limited
    has its own limit: calls running at the same time do not share slots. No items:
    return an empty list.
    If the caller cancels map_limited, the running calls are cancelled and have stopped
    before the cancellation reaches the caller, and no new ones start.
    """
    slots = asyncio.Semaphore(limit)

    async def one(item: K) -> T:
        async with slots:
            return await fetch(item)

    return await asyncio.gather(*(one(item) for item in items), return_exceptions=True)


class RateLimiter:
    """Lets at most `per_second` acquires through in any one second."""

    def __init__(self, per_second: int) -> None:
        self._gap = 1 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            wait = self._next - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next = loop.time() + self._gap
