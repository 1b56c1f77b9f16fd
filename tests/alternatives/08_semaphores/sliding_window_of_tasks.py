"""Right answer: keeps at most `limit` tasks running with asyncio.wait(FIRST_COMPLETED) and
starts the next one as each finishes.
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
    results: list[T | Exception] = [None] * len(items)  # type: ignore[list-item]
    index_of: dict[asyncio.Task[T], int] = {}
    waiting = iter(range(len(items)))
    try:
        for index in waiting:
            index_of[asyncio.create_task(fetch(items[index]))] = index
            if len(index_of) == limit:
                break
        running = set(index_of)
        while running:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                results[index_of[task]] = task.result() if error is None else error  # type: ignore[assignment]
                for index in waiting:
                    new = asyncio.create_task(fetch(items[index]))
                    index_of[new] = index
                    running.add(new)
                    break
        return results
    finally:
        for task in index_of:
            task.cancel()
        await asyncio.gather(*index_of, return_exceptions=True)


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
