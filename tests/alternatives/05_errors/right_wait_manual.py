"""Right answer: tasks with asyncio.wait (ALL_COMPLETED / FIRST_EXCEPTION), cancelling and
awaiting leftovers in finally.
"""

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
    tasks = [asyncio.ensure_future(fetch(i)) for i in ids]
    try:
        if tasks:
            await asyncio.wait(tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    results: list[T | Exception] = []
    for task in tasks:
        if task.cancelled():
            raise asyncio.CancelledError()
        exc = task.exception()
        if exc is None:
            results.append(task.result())
        elif isinstance(exc, Exception):
            results.append(exc)
        else:
            raise exc
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
    tasks = [asyncio.ensure_future(fetch(i)) for i in ids]
    try:
        if tasks:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    errors = [t.exception() for t in tasks if not t.cancelled() and t.exception() is not None]
    if not errors:
        if any(t.cancelled() for t in tasks):
            raise asyncio.CancelledError()
        return [t.result() for t in tasks]
    others = [e for e in errors if not isinstance(e, NotFound)]
    if not others:
        return None
    if len(others) == 1:
        raise others[0]
    raise BaseExceptionGroup("fetches failed", others)
