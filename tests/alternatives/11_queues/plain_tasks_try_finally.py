"""Right answer: plain create_task workers, a growing result list, cancel + gather in finally."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def process_all(
    source: AsyncIterable[T],
    handle: Callable[[T], Awaitable[R]],
    *,
    workers: int,
    maxsize: int,
) -> list[R | Exception]:
    """Handle every item of `source` with `workers` worker tasks fed by a bounded queue."""
    queue: asyncio.Queue[tuple[int, T]] = asyncio.Queue(maxsize=maxsize)
    results: list[R | Exception | None] = []

    async def worker() -> None:
        while True:
            index, item = await queue.get()
            try:
                results[index] = await handle(item)
            except Exception as exc:
                results[index] = exc
            finally:
                queue.task_done()

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        async for item in source:
            results.append(None)  # its place, filled in by a worker
            await queue.put((len(results) - 1, item))
        await queue.join()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results  # type: ignore[return-value]
