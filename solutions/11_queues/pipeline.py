"""Kata 11 reference solution: queues and a pool of workers."""

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
    results: dict[int, R | Exception] = {}

    async def worker() -> None:
        while True:
            index, item = await queue.get()
            try:
                results[index] = await handle(item)
            except Exception as exc:  # a failed item is a result; the worker goes on
                results[index] = exc
            finally:
                queue.task_done()

    count = 0
    # The group cancels the workers and waits for them if the source raises or we are
    # cancelled; on the happy path we cancel them ourselves once the queue is drained.
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        async for item in source:
            await queue.put((count, item))
            count += 1
        await queue.join()
        for task in tasks:
            task.cancel()
    return [results[index] for index in range(count)]
