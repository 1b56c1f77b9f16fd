"""Right answer: explicit acquire() with release() in a finally; RateLimiter schedules the
release with loop.call_at.
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
    slots = asyncio.Semaphore(limit)

    async def one(item: K) -> T | Exception:
        await slots.acquire()
        try:
            return await fetch(item)
        except Exception as error:
            return error
        finally:
            slots.release()

    return list(await asyncio.gather(*map(one, items)))


class RateLimiter:
    """Lets at most `per_second` acquires through in any one second."""

    def __init__(self, per_second: int) -> None:
        self._slots = asyncio.BoundedSemaphore(per_second)

    async def acquire(self) -> None:
        await self._slots.acquire()
        loop = asyncio.get_running_loop()
        loop.call_at(loop.time() + 1, self._slots.release)
