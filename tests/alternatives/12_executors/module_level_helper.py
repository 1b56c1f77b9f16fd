"""Right answer: crunch_all sends a module-level helper of its own that times each job."""

from __future__ import annotations

import asyncio
import time
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
    # A pool of exactly max_threads threads; leaving the block shuts it down and joins them.
    with ThreadPoolExecutor(max_workers=max_threads) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, fetch, url) for url in urls))


async def crunch_all(pool: Executor, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Run the CPU-bound `work(item)` for every item in `pool`; return the results."""
    loop = asyncio.get_running_loop()
    jobs = [loop.run_in_executor(pool, _timed, work, item) for item in items]
    return [result for result, _seconds in await asyncio.gather(*jobs)]


def _timed(work: Callable[[T], R], item: T) -> tuple[R, float]:
    """Runs in the worker process: a module-level function, so it can be pickled by name."""
    start = time.perf_counter()
    result = work(item)
    return result, time.perf_counter() - start
