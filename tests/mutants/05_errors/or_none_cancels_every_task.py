"""Mutant: fetch_all_or_none cancels every task on the event loop when one fetch fails."""

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
    tasks = [asyncio.create_task(fetch(i)) for i in ids]
    try:
        return await asyncio.gather(*tasks)
    except Exception as error:
        me = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not me]
        for task in others:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if isinstance(error, NotFound):
            return None
        raise
