"""Kata 03: fan out with asyncio.gather. Read README.md, then fill in each TODO."""

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
    # TODO: make one fetch(id) per id, then await them all together with
    # `asyncio.gather(*...)`. Awaiting them one by one in a loop is not concurrent.
    raise NotImplementedError("fetch_all")


async def fetch_profile(
    fetch_user: Callable[[int], Awaitable[UserT]],
    fetch_orders: Callable[[int], Awaitable[OrdersT]],
    user_id: int,
) -> tuple[UserT, OrdersT]:
    """Fetch the user and their orders at the same time, and return (user, orders)."""
    # TODO: gather fetch_user(user_id) and fetch_orders(user_id), unpack the list that
    # gather gives back, and return the two values as a tuple.
    raise NotImplementedError("fetch_profile")
