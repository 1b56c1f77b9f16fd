"""Mutant: sends one sentinel per worker but returns without waiting for the workers to stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

STOP = object()


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
        while True:
            entry = await queue.get()
            try:
                if entry is STOP:
                    return
                index, item = entry  # type: ignore[misc]
                try:
                    results[index] = await handle(item)
                except Exception as exc:
                    results[index] = exc
            finally:
                queue.task_done()

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    count = 0
    async for item in source:
        await queue.put((count, item))
        count += 1
    await queue.join()
    for _ in tasks:
        await queue.put(STOP)
    return [results[index] for index in range(count)]
