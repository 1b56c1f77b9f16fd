"""Right answer: the producer is a task of its own in the TaskGroup; results in a growing list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, TypeVar

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
    queue: asyncio.Queue[tuple[int, T]] = asyncio.Queue(maxsize)
    results: list[Any] = []

    async def produce() -> None:
        async for item in source:
            results.append(None)
            await queue.put((len(results) - 1, item))

    async def work() -> None:
        while True:
            index, item = await queue.get()
            try:
                results[index] = await handle(item)
            except Exception as exc:
                results[index] = exc
            queue.task_done()

    async with asyncio.TaskGroup() as tg:
        consumers = [tg.create_task(work()) for _ in range(workers)]
        await tg.create_task(produce())
        await queue.join()
        for consumer in consumers:
            consumer.cancel()
    return results
