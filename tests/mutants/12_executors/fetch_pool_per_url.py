"""Mutant: fetch_all makes a one-thread pool per url: no limit, and nothing is shut down."""

from __future__ import annotations

import asyncio
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
    return await asyncio.gather(
        *(loop.run_in_executor(ThreadPoolExecutor(max_workers=1), fetch, url) for url in urls)
    )


async def crunch_all(pool: Executor, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Run the CPU-bound `work(item)` for every item in `pool`; return the results."""
    loop = asyncio.get_running_loop()
    return await asyncio.gather(*(loop.run_in_executor(pool, work, item) for item in items))
