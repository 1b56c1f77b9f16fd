"""Kata 08: semaphores. Read README.md, then fill in each TODO."""

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

    Keep every slot busy: whenever a call finishes, the next waiting item (in the order
    of items) starts at once, so `limit` calls are running for as long as there are items
    left to start.

    The results line up with `items` (the first result is for items[0], and so on). A
    fetch that raises an exception does not stop the others: the exception object takes
    its place in the list, and its slot goes to the next item. Every call of map_limited
    has its own limit: calls running at the same time do not share slots. No items:
    return an empty list.
    If the caller cancels map_limited, the running calls are cancelled and have stopped
    before the cancellation reaches the caller, and no new ones start.
    """
    # TODO: one asyncio.Semaphore(limit) per call of map_limited; every item waits for a
    # slot with `async with`; gather them all, keeping each error in its place.
    raise NotImplementedError("map_limited")


class RateLimiter:
    """Lets at most `per_second` acquires through in any one second.

    It limits how often work may start, not how much runs at once.
    """

    def __init__(self, per_second: int) -> None:
        """Start with `per_second` free slots."""
        # TODO: keep what acquire needs, e.g. an asyncio.Semaphore(per_second).
        raise NotImplementedError("RateLimiter.__init__")

    async def acquire(self) -> None:
        """Take a free slot and return; it comes back exactly one second after it was taken.

        While a slot is free, return at once. When none is, wait until the next one comes
        back. How long the caller's work takes afterwards does not matter. A caller that is
        cancelled while it waits takes no slot.
        """
        # TODO: take a slot, and have the event loop give it back one second from now.
        raise NotImplementedError("RateLimiter.acquire")
