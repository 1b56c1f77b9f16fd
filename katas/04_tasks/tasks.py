"""Kata 04: tasks. Read README.md, then fill in each TODO."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Downloader:
    """Starts downloads in the background and keeps track of them."""

    def __init__(self, fetch: Callable[[str], Awaitable[bytes]]) -> None:
        """Remember `fetch`, the coroutine function that downloads one url."""
        # TODO: keep `fetch`, and an empty list for the tasks you are going to start.
        raise NotImplementedError("Downloader.__init__")

    def start(self, url: str) -> asyncio.Task[bytes]:
        """Start downloading `url` in the background and return its task at once."""
        # TODO: asyncio.create_task(self._fetch(url)); keep a reference to it, then return it.
        raise NotImplementedError("Downloader.start")

    @property
    def running(self) -> int:
        """How many started downloads have not finished yet."""
        # TODO: count the tasks that are not done yet (`task.done()`).
        raise NotImplementedError("Downloader.running")

    async def wait_all(self) -> list[bytes]:
        """Wait for every started download; return their results in start order.

        If a download failed, its error is raised here; the other downloads carry on.
        """
        # TODO: await all the tasks at once; asyncio.gather keeps their order.
        raise NotImplementedError("Downloader.wait_all")

    async def cancel_all(self) -> int:
        """Cancel every unfinished download, wait until they have stopped, return how many.

        Downloads that already finished are left alone.
        """
        # TODO: task.cancel() only asks; await the cancelled tasks before you return.
        raise NotImplementedError("Downloader.cancel_all")
