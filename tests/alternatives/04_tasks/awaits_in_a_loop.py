"""Right answer: wait_all awaits the tasks one by one in start order; running and cancel_all use
explicit loops; cancel_all waits with gather(return_exceptions=True).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Downloader:
    """Starts downloads in the background and keeps track of them."""

    def __init__(self, fetch: Callable[[str], Awaitable[bytes]]) -> None:
        """Remember `fetch`, the coroutine function that downloads one url."""
        self._fetch = fetch
        self._tasks: list[asyncio.Task[bytes]] = []

    def start(self, url: str) -> asyncio.Task[bytes]:
        """Start downloading `url` in the background and return its task at once."""
        task = asyncio.create_task(self._fetch(url))
        self._tasks.append(task)
        return task

    @property
    def running(self) -> int:
        """How many started downloads have not finished yet."""
        count = 0
        for task in self._tasks:
            if not task.done():
                count += 1
        return count

    async def wait_all(self) -> list[bytes]:
        """Wait for every started download; return their results in start order."""
        results = []
        for task in self._tasks:
            results.append(await task)
        return results

    async def cancel_all(self) -> int:
        """Cancel every unfinished download, wait until they have stopped, return how many."""
        cancelled = []
        for task in self._tasks:
            if task.cancel():
                cancelled.append(task)
        await asyncio.gather(*cancelled, return_exceptions=True)
        return len(cancelled)
