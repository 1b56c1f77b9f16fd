"""The code under test in kata 29. It works: your tests must pass against it.

(Read it, but don't edit it. The grader also runs your tests against broken copies.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Fetch = Callable[[str], Awaitable[bytes]]


async def fetch_all(
    urls: list[str], fetch: Fetch, limit: int = 3, fetch_timeout: float = 5.0
) -> list[bytes | None]:
    """Fetch every url, concurrently but at most `limit` at a time.

    - The results are in the order of `urls`.
    - Each fetch gets `fetch_timeout` seconds, counted from when it starts (time spent waiting
      for a free slot does not count); a fetch that takes longer is cancelled and its
      result is None.
    - Any other error from a fetch is raised (the other fetches are cancelled).
    """
    slots = asyncio.Semaphore(limit)

    async def one(url: str) -> bytes | None:
        async with slots:
            try:
                async with asyncio.timeout(fetch_timeout):
                    return await fetch(url)
            except TimeoutError:
                return None

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(url)) for url in urls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the fetch's own error, not a group of one
    return [task.result() for task in tasks]
