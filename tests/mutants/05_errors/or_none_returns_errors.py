"""Mutant: fetch_all_or_none returns the errors in the list instead of raising them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


class NotFound(Exception):
    """What `fetch(id)` raises when there is no item with that id. Leave it as it is."""


async def fetch_settled(fetch: Callable[[int], Awaitable[T]], ids: Sequence[int]) -> list:
    results = await asyncio.gather(*(fetch(i) for i in ids), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
    return results


async def fetch_all_or_none(fetch, ids):
    results = await asyncio.gather(*(fetch(i) for i in ids), return_exceptions=True)
    if any(isinstance(r, NotFound) for r in results):
        return None
    return results
