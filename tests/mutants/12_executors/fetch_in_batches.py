"""Mutant: fetch_all gathers max_threads urls at a time, each batch waiting for its slowest."""

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
    results: list[bytes] = []
    with ThreadPoolExecutor(max_workers=max_threads) as pool:
        for start in range(0, len(urls), max_threads):
            batch = urls[start : start + max_threads]
            results += await asyncio.gather(*(loop.run_in_executor(pool, fetch, u) for u in batch))
    return results


async def crunch_all(pool: Executor, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Run the CPU-bound `work(item)` for every item in `pool`; return the results."""
    loop = asyncio.get_running_loop()
    return await asyncio.gather(*(loop.run_in_executor(pool, work, item) for item in items))
