"""Mutant (blind review): fetch_all gathers the ids in batches of 5, waiting for each batch before
the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
UserT = TypeVar("UserT")
OrdersT = TypeVar("OrdersT")


async def fetch_all(fetch: Callable[[int], Awaitable[T]], ids: Sequence[int]) -> list[T]:
    """Call `fetch(id)` for every id, all at the same time, and return the results.

    The results line up with `ids` (the first result is for ids[0], and so on), whatever
    order the fetches finish in. No ids: return an empty list.
    """
    results: list[T] = []
    for start in range(0, len(ids), 5):
        batch = ids[start : start + 5]
        results.extend(await asyncio.gather(*(fetch(i) for i in batch)))
    return results


async def fetch_profile(
    fetch_user: Callable[[int], Awaitable[UserT]],
    fetch_orders: Callable[[int], Awaitable[OrdersT]],
    user_id: int,
) -> tuple[UserT, OrdersT]:
    """Fetch the user and their orders at the same time, and return (user, orders)."""
    user, orders = await asyncio.gather(fetch_user(user_id), fetch_orders(user_id))
    return user, orders
