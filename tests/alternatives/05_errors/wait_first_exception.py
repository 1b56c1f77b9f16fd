"""Right answer: asyncio.wait everywhere: ALL_COMPLETED for fetch_settled (cancelling in
finally), FIRST_EXCEPTION for fail fast, ExceptionGroup.split for NotFound.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


class NotFound(Exception):
    """What `fetch(id)` raises when there is no item with that id. Leave it as it is."""


async def fetch_settled(fetch, ids):
    tasks = [asyncio.create_task(fetch(i)) for i in ids]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks)
    finally:  # the caller cancelled us: stop the fetches and wait for them
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    results = []
    for task in tasks:
        if task.cancelled():
            raise asyncio.CancelledError()
        error = task.exception()
        results.append(error if error is not None else task.result())
    return results


async def fetch_all_or_none(fetch, ids):
    tasks = [asyncio.create_task(fetch(i)) for i in ids]
    if not tasks:
        return []
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    errors = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    if not errors:
        return [task.result() for task in tasks]
    _, rest = ExceptionGroup("fetch_all_or_none", errors).split(NotFound)
    if rest is not None:
        raise rest
    return None
