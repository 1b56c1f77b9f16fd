"""Mutant (blind review): map_limited gathers `limit` items, waits for the whole batch, then
starts the next batch.
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
    results: list[T | Exception] = []
    for start in range(0, len(items), limit):
        batch = items[start : start + limit]
        results.extend(
            await asyncio.gather(*(fetch(item) for item in batch), return_exceptions=True)
        )
    return results


class RateLimiter:
    """Lets at most `per_second` acquires through in any one second.

    It limits how often work may start, not how much runs at once.
    """

    def __init__(self, per_second: int) -> None:
        """Start with `per_second` free slots."""
        self._slots = asyncio.Semaphore(per_second)

    async def acquire(self) -> None:
        """Take a free slot and return; it comes back exactly one second after it was taken.

        While a slot is free, return at once. When none is, wait until the next one comes
        back. How long the caller's work takes afterwards does not matter. A caller that is
        cancelled while it waits takes no slot.
        """
        await self._slots.acquire()
        asyncio.get_running_loop().call_later(1, self._slots.release)
