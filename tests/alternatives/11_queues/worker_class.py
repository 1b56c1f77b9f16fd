"""Right answer: a small WorkerPool class; workers return on a sentinel, a finally stops them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Done:
    """The stop marker, one per worker."""


class WorkerPool(Generic[T, R]):
    def __init__(self, handle: Callable[[T], Awaitable[R]], workers: int, maxsize: int) -> None:
        self.handle = handle
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=maxsize)
        self.results: dict[int, Any] = {}
        self.tasks = [asyncio.create_task(self._work()) for _ in range(workers)]

    async def _work(self) -> None:
        while True:
            entry = await self.queue.get()
            try:
                if isinstance(entry, _Done):
                    return
                index, item = entry
                try:
                    self.results[index] = await self.handle(item)
                except Exception as exc:
                    self.results[index] = exc
            finally:
                self.queue.task_done()

    async def finish(self) -> None:
        for _ in self.tasks:
            await self.queue.put(_Done())
        await asyncio.wait(self.tasks)

    async def abort(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.wait(self.tasks)


async def process_all(
    source: AsyncIterable[T],
    handle: Callable[[T], Awaitable[R]],
    *,
    workers: int,
    maxsize: int,
) -> list[R | Exception]:
    """Handle every item of `source` with `workers` worker tasks fed by a bounded queue."""
    pool: WorkerPool[T, R] = WorkerPool(handle, workers, maxsize)
    count = 0
    try:
        async for item in source:
            await pool.queue.put((count, item))
            count += 1
        await pool.queue.join()
    except BaseException:
        await pool.abort()
        raise
    await pool.finish()
    return [pool.results[i] for i in range(count)]
