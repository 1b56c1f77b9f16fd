"""Mutant (blind review): workers are cancelled and awaited only on the normal path, so a failing
source or a cancel leaves them running."""

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
    """Handle every item of `source` with `workers` worker tasks fed by a bounded queue.

    - A producer reads the items from `source` (`async for`) and puts each one on an
      `asyncio.Queue(maxsize=maxsize)`; it reads the next item only once the previous one
      is on the queue. When the queue is full, `put` waits until a worker takes an item.
    - Exactly `workers` worker tasks take items off the queue and await `handle(item)`,
      one item at a time each: while there is work, `workers` items are handled at once.
    - The results line up with the source: results[i] is for the i-th item it produced
      (the same value twice is handled twice). An empty source gives [].
    - If `handle(item)` raises an Exception, results[i] is that exception, and the worker
      goes on with the next item.
    - Before returning, stop every worker and wait until it has stopped. Leave tasks that
      are not yours alone.
    - If `source` raises, stop the workers and let its error out (on its own, or inside an
      ExceptionGroup, as a TaskGroup raises it).
    - If process_all itself is cancelled, the workers are cancelled too; wait until they
      have stopped and let the cancellation go on.

    `workers` and `maxsize` are at least 1.
    """
    queue: asyncio.Queue[tuple[int, T]] = asyncio.Queue(maxsize=maxsize)
    results: dict[int, R | Exception] = {}

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
    count = 0
    async for item in source:
        await queue.put((count, item))
        count += 1
    await queue.join()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [results[i] for i in range(count)]
