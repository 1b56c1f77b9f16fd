"""Mutant (blind review, sent in as right): awaits its tasks one by one, so when fetch_all is
cancelled only the fetch it is awaiting is cancelled; the others keep running.
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

    async def one(i: int) -> T:
        return await fetch(i)

    tasks = [asyncio.create_task(one(i)) for i in ids]
    return [await task for task in tasks]


async def fetch_profile(
    fetch_user: Callable[[int], Awaitable[UserT]],
    fetch_orders: Callable[[int], Awaitable[OrdersT]],
    user_id: int,
) -> tuple[UserT, OrdersT]:
    """Fetch the user and their orders at the same time, and return (user, orders)."""

    async def user() -> UserT:
        return await fetch_user(user_id)

    async def orders() -> OrdersT:
        return await fetch_orders(user_id)

    user_task = asyncio.create_task(user())
    orders_task = asyncio.create_task(orders())
    return await user_task, await orders_task
