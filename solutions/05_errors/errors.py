"""Kata 05 reference solution: errors in concurrent code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


class NotFound(Exception):
    """What `fetch(id)` raises when there is no item with that id. Leave it as it is."""


async def fetch_settled(
    fetch: Callable[[int], Awaitable[T]], ids: Sequence[int]
) -> list[T | Exception]:
    """Call `fetch(id)` for every id, all at the same time, and wait for all of them.

    Return one entry per id, in the order of `ids`: the value fetch returned or, if it
    failed, the exception it raised (the exception object itself, not raised). One
    failure must not stop, cancel or lose any other fetch. No ids: return an empty list.

    Only ordinary errors (`Exception`) become entries. A fetch that ends with
    CancelledError (or any other BaseException) did not fail: it is a signal to stop.
    Raise it again; never put it in the list. If the caller cancels fetch_settled, every
    fetch is cancelled too, and fetch_settled ends cancelled. Whatever it returns or
    raises, no fetch is still running by then.
    """
    results = await asyncio.gather(*(fetch(item_id) for item_id in ids), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
    return results


async def fetch_all_or_none(
    fetch: Callable[[int], Awaitable[T]], ids: Sequence[int]
) -> list[T] | None:
    """All or nothing, failing fast: call `fetch(id)` for every id at the same time.

    If every fetch succeeds, return their results in the order of `ids` (no ids: []).
    As soon as one fails, cancel the others and wait until they have stopped. Then:

    - if every failure was NotFound (the item does not exist), return None;
    - otherwise raise. Every error other than NotFound must reach the caller, even when
      a NotFound happened as well: one error may be raised as it is, several together
      in an ExceptionGroup (what asyncio.TaskGroup raises is fine).

    If the caller cancels fetch_all_or_none, every fetch is cancelled too, and it ends
    cancelled. Whatever it returns or raises, no fetch is still running by then.
    """
    found = True
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(fetch(item_id)) for item_id in ids]
    except* NotFound:
        found = False
    return [task.result() for task in tasks] if found else None
