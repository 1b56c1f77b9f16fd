"""Right answer: `limit` worker tasks in a TaskGroup take the next index from an
asyncio.Queue; no semaphore. RateLimiter keeps a list of the start times of the last
second.
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
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(items)):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            try:
                results[index] = await fetch(items[index])
            except Exception as error:
                results[index] = error

    async with asyncio.TaskGroup() as tg:
        for _ in range(min(limit, len(items))):
            tg.create_task(worker())
    return results


class RateLimiter:
    """Lets at most `per_second` acquires through in any one second."""

    def __init__(self, per_second: int) -> None:
        self._per_second = per_second
        self._starts: list[float] = []

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self._starts and self._starts[0] + 1 <= loop.time():
                self._starts.pop(0)
            if len(self._starts) < self._per_second:
                self._starts.append(loop.time())
                return
            await asyncio.sleep(self._starts[0] + 1 - loop.time())
