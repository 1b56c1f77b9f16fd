"""Mutant (blind review): place keeps every task, so drain re-raises errors place already
raised and waits for finished saves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol


class Connection(Protocol):
    async def fetch(self, url: str) -> bytes: ...


class Pool(Protocol):
    async def acquire(self) -> Connection: ...

    async def release(self, conn: Connection) -> None: ...


async def fetch_with_retries(
    fetch: Callable[[str], Awaitable[bytes]], url: str, *, attempt_timeout: float, attempts: int
) -> bytes:
    """Call `fetch(url)` up to `attempts` times, one attempt after another.

    Each attempt gets at most `attempt_timeout` seconds of its own. An attempt that runs
    out of time is stopped, and the next one starts at once. Return the first result.
    If every attempt ran out of time, raise TimeoutError. Any other error from fetch is
    raised at once, without retrying. If the caller cancels fetch_with_retries, it stops
    the attempt that is running, starts no other, and ends cancelled.
    """
    for _ in range(attempts):
        try:
            async with asyncio.timeout(attempt_timeout):
                return await fetch(url)
        except TimeoutError:
            continue
    raise TimeoutError(f"{url}: no answer in {attempts} attempts")


async def download(pool: Pool, url: str, *, time_limit: float) -> bytes:
    """Take a connection from `pool`, fetch `url` with it, and give it back.

    The whole download, waiting for a connection included, gets at most `time_limit`
    seconds; after that raise TimeoutError. Give the connection back with
    `await pool.release(conn)`, exactly once, before download returns or raises: on
    success, when fetch fails (its error is raised), on timeout, and when the caller
    cancels download (it then ends cancelled).
    """
    async with asyncio.timeout(time_limit):
        conn = await pool.acquire()
        try:
            return await conn.fetch(url)
        finally:
            await pool.release(conn)


class OrderService:
    """Saves orders. A save, once started, always runs to its end."""

    def __init__(self, save: Callable[[str], Awaitable[str]]) -> None:
        """Remember `save`, the coroutine function that saves one order and returns a receipt."""
        self._save = save
        self._unwaited: list[asyncio.Task[str]] = []

    async def place(self, order: str, *, time_limit: float) -> str:
        """Start saving `order` and wait at most `time_limit` seconds for it to finish.

        Return the receipt that save gives back; if the save fails in time, raise its
        error. When time is up, raise TimeoutError, but don't stop the save: it goes on
        in the background until it is done. If the caller cancels place, the same: place
        ends cancelled and the save goes on.
        """
        task = asyncio.create_task(self._save(order))
        self._unwaited.append(task)
        async with asyncio.timeout(time_limit):
            return await asyncio.shield(task)

    async def drain(self) -> None:
        """Wait until every save that place stopped waiting for has finished.

        If one of them failed, raise its error once they have all finished (with several
        failed, raise one of them, or all of them in an ExceptionGroup). A save is
        drained once: the next drain neither waits for it nor raises its error again.
        With nothing left to wait for, return at once.
        """
        tasks, self._unwaited = self._unwaited, []
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
