"""Mutant (blind review): the task list is a class attribute, shared by every Downloader
instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Downloader:
    """Starts downloads in the background and keeps track of them."""

    _tasks: list[asyncio.Task[bytes]] = []  # noqa: RUF012

    def __init__(self, fetch: Callable[[str], Awaitable[bytes]]) -> None:
        """Remember `fetch`, the coroutine function that downloads one url."""
        self._fetch = fetch

    def start(self, url: str) -> asyncio.Task[bytes]:
        """Start downloading `url` in the background and return its task at once."""
        task = asyncio.create_task(self._fetch(url))
        self._tasks.append(task)
        return task

    @property
    def running(self) -> int:
        """How many started downloads have not finished yet."""
        return sum(not t.done() for t in self._tasks)

    async def wait_all(self) -> list[bytes]:
        """Wait for every started download; return their results in start order.

        If a download failed, its error is raised here.
        """
        return list(await asyncio.gather(*self._tasks))

    async def cancel_all(self) -> int:
        """Cancel every unfinished download, wait until they have stopped, return how many.

        Downloads that already finished are left alone.
        """
        pending = [t for t in self._tasks if not t.done()]
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)
