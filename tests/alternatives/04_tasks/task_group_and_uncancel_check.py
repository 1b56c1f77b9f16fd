"""Right answer: wait_all collects results with a TaskGroup of awaiters that shield the downloads;
cancel_all awaits each task and re-raises a CancelledError meant for itself.
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
        return sum(not task.done() for task in self._tasks)

    async def wait_all(self) -> list[bytes]:
        """Wait for every started download; return their results in start order."""

        async def result_of(task: asyncio.Task[bytes]) -> bytes:
            # shield: if another download fails, the group cancels this awaiter, not the download
            return await asyncio.shield(task)

        async with asyncio.TaskGroup() as tg:
            waiters = [tg.create_task(result_of(task)) for task in self._tasks]
        return [waiter.result() for waiter in waiters]

    async def cancel_all(self) -> int:
        """Cancel every unfinished download, wait until they have stopped, return how many."""
        pending = [task for task in self._tasks if not task.done()]
        for task in pending:
            task.cancel()
        me = asyncio.current_task()
        for task in pending:
            try:
                await task
            except asyncio.CancelledError:
                if me is not None and me.cancelling():
                    raise  # this one was meant for cancel_all itself
        return len(pending)
