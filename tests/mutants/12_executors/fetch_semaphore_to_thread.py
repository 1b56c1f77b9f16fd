"""Mutant: fetch_all limits asyncio.to_thread with a Semaphore; the default pool caps it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def fetch_all(
    fetch: Callable[[str], bytes], urls: Sequence[str], *, max_threads: int
) -> list[bytes]:
    """Call the blocking `fetch(url)` for every url in worker threads; return the results."""
    limit = asyncio.Semaphore(max_threads)

    async def one(url: str) -> bytes:
        async with limit:
            return await asyncio.to_thread(fetch, url)

    return await asyncio.gather(*(one(url) for url in urls))


async def crunch_all(pool: Executor, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Run the CPU-bound `work(item)` for every item in `pool`; return the results."""
    futures = [asyncio.wrap_future(pool.submit(work, item)) for item in items]
    return await asyncio.gather(*futures)
