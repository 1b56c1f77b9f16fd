"""Right answer: one sentinel per worker ends it (no join, no task_done); cancel on failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

STOP = object()  # the sentinel: a worker that gets it returns


async def process_all(
    source: AsyncIterable[T],
    handle: Callable[[T], Awaitable[R]],
    *,
    workers: int,
    maxsize: int,
) -> list[R | Exception]:
    """Handle every item of `source` with `workers` worker tasks fed by a bounded queue."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=maxsize)
    results: dict[int, R | Exception] = {}

    async def worker() -> None:
        while (entry := await queue.get()) is not STOP:
            index, item = entry  # type: ignore[misc]
            try:
                results[index] = await handle(item)
            except Exception as exc:
                results[index] = exc

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    count = 0
    try:
        async for item in source:
            await queue.put((count, item))
            count += 1
        for _ in tasks:
            await queue.put(STOP)
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [results[index] for index in range(count)]
