"""Mutant: fetch_all waits for every task on the loop (asyncio.all_tasks()), not just its own."""

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
    if not ids:
        return []
    tasks = [asyncio.create_task(fetch(item_id)) for item_id in ids]
    await asyncio.wait(asyncio.all_tasks() - {asyncio.current_task()})
    return [task.result() for task in tasks]


async def fetch_profile(
    fetch_user: Callable[[int], Awaitable[UserT]],
    fetch_orders: Callable[[int], Awaitable[OrdersT]],
    user_id: int,
) -> tuple[UserT, OrdersT]:
    """Fetch the user and their orders at the same time, and return (user, orders)."""
    user, orders = await asyncio.gather(fetch_user(user_id), fetch_orders(user_id))
    return user, orders
