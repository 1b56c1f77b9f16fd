"""Right answer: shutdown(wait=True) in a finally; jobs sent as functools.partial."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def fetch_all(
    fetch: Callable[[str], bytes], urls: Sequence[str], *, max_threads: int
) -> list[bytes]:
    """Call the blocking `fetch(url)` for every url in worker threads; return the results."""
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=max_threads)
    try:
        futures = [loop.run_in_executor(pool, functools.partial(fetch, url)) for url in urls]
        return list(await asyncio.gather(*futures))
    finally:
        pool.shutdown(wait=True)


async def crunch_all(pool: Executor, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Run the CPU-bound `work(item)` for every item in `pool`; return the results."""
    loop = asyncio.get_running_loop()
    jobs = [functools.partial(work, item) for item in items]
    results = await asyncio.gather(*(loop.run_in_executor(pool, job) for job in jobs))
    return list(results)
