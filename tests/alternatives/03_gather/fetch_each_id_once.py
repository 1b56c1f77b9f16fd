"""Right answer: fetch_all fetches each distinct id once and reuses its result for duplicates;
fetch_profile starts fetch_user as a task and awaits fetch_orders meanwhile.
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
    order the fetches finish in. No ids: return an empty list. If fetch_all itself is
    cancelled, the fetches it started are cancelled too.
    """
    distinct = list(dict.fromkeys(ids))
    results = await asyncio.gather(*(fetch(item_id) for item_id in distinct))
    by_id = dict(zip(distinct, results, strict=True))
    return [by_id[item_id] for item_id in ids]


async def fetch_profile(
    fetch_user: Callable[[int], Awaitable[UserT]],
    fetch_orders: Callable[[int], Awaitable[OrdersT]],
    user_id: int,
) -> tuple[UserT, OrdersT]:
    """Fetch the user and their orders at the same time, and return (user, orders)."""
    user_task = asyncio.ensure_future(fetch_user(user_id))
    try:
        orders = await fetch_orders(user_id)
    except BaseException:
        user_task.cancel()
        await asyncio.gather(user_task, return_exceptions=True)
        raise
    return await user_task, orders
