"""Mutant (blind review): fetch_all only fetches the first 10 ids."""

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
    return list(await asyncio.gather(*(fetch(i) for i in ids[:10])))


async def fetch_profile(
    fetch_user: Callable[[int], Awaitable[UserT]],
    fetch_orders: Callable[[int], Awaitable[OrdersT]],
    user_id: int,
) -> tuple[UserT, OrdersT]:
    """Fetch the user and their orders at the same time, and return (user, orders)."""
    user, orders = await asyncio.gather(fetch_user(user_id), fetch_orders(user_id))
    return user, orders
