"""Mutant: fetches the items one after another."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


async def map_limited(
    fetch: Callable[[K], Awaitable[T]], items: Sequence[K], limit: int
) -> list[T | Exception]:
    results: list[T | Exception] = []
    for item in items:
        try:
            results.append(await fetch(item))
        except Exception as error:
            results.append(error)
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
