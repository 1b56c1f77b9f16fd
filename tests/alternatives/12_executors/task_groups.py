"""Right answer: TaskGroups instead of gather, in both functions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def fetch_all(
    fetch: Callable[[str], bytes], urls: Sequence[str], *, max_threads: int
) -> list[bytes]:
    """Call the blocking `fetch(url)` for every url in worker threads; return the results."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="fetch") as pool:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(_wait(loop.run_in_executor(pool, fetch, url))) for url in urls]
    return [task.result() for task in tasks]


async def crunch_all(pool: Executor, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Run the CPU-bound `work(item)` for every item in `pool`; return the results."""
    loop = asyncio.get_running_loop()
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(_wait(loop.run_in_executor(pool, work, item))) for item in items]
    return [task.result() for task in tasks]


async def _wait(future: Awaitable[R]) -> R:
    return await future
