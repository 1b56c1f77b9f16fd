"""Mutant (blind review): fetch_all keeps one module-level pool sized by the first call's
max_threads, never shut down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


_POOL: ThreadPoolExecutor | None = None


async def fetch_all(
    fetch: Callable[[str], bytes], urls: Sequence[str], *, max_threads: int
) -> list[bytes]:
    """Call the blocking `fetch(url)` for every url in worker threads; return the results.

    - `fetch` blocks (like `requests.get`): never call it on the event loop's thread. The
      loop must stay free to run other tasks the whole time.
    - Run up to `max_threads` fetches at the same time, and that many whenever enough urls
      are still waiting: not one after another, and not in batches.
    - The results line up with `urls` (one fetch per url, duplicates included), whatever
      order the fetches finish in. No urls: [].
    - If you make a thread pool, shut it down before you return: when fetch_all returns,
      no thread it started is still running. (The loop's own default pool, which
      asyncio.to_thread uses, belongs to the loop, not to you.)
    - If a fetch raises, fetch_all raises that error.
    """
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max_threads)
    loop = asyncio.get_running_loop()
    return list(await asyncio.gather(*(loop.run_in_executor(_POOL, fetch, url) for url in urls)))


async def crunch_all(pool: Executor, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Run the CPU-bound `work(item)` for every item in `pool`; return the results.

    - `pool` is a process pool that belongs to the caller: run every job in it, never on
      this thread or in a thread pool (CPU-bound Python in threads runs one at a time,
      because of the GIL). Don't shut the pool down: the caller uses it again.
    - Hand every item to the pool at once (it runs as many at a time as it has
      processes), and wait for the results without blocking the event loop.
    - The results line up with `items` (one job per item, duplicates included). No
      items: [].
    - If a job raises, crunch_all raises that error.
    - If crunch_all is cancelled, the jobs still waiting in the pool are cancelled too,
      and the cancellation goes on to the caller.
    """
    loop = asyncio.get_running_loop()
    return list(await asyncio.gather(*(loop.run_in_executor(pool, work, item) for item in items)))
