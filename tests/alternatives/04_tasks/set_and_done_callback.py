"""Right answer: a set of running tasks that add_done_callback(discard) keeps up to date, beside a
list of every task for wait_all; cancel_all waits with asyncio.wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Downloader:
    """Starts downloads in the background and keeps track of them."""

    def __init__(self, fetch: Callable[[str], Awaitable[bytes]]) -> None:
        """Remember `fetch`, the coroutine function that downloads one url."""
        self._fetch = fetch
        self._started: list[asyncio.Task[bytes]] = []
        self._running: set[asyncio.Task[bytes]] = set()

    def start(self, url: str) -> asyncio.Task[bytes]:
        """Start downloading `url` in the background and return its task at once."""
        task = asyncio.create_task(self._fetch(url))
        self._started.append(task)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    @property
    def running(self) -> int:
        """How many started downloads have not finished yet."""
        return len(self._running)

    async def wait_all(self) -> list[bytes]:
        """Wait for every started download; return their results in start order."""
        return list(await asyncio.gather(*self._started))

    async def cancel_all(self) -> int:
        """Cancel every unfinished download, wait until they have stopped, return how many."""
        pending = [task for task in self._running if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        return len(pending)
