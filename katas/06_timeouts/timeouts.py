"""Kata 06: timeouts and cancellation. Read README.md, then fill in each TODO."""

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
    If every attempt ran out of time, raise TimeoutError (with attempts=0 there is no
    attempt, so raise it at once). Any other error from fetch is
    raised at once, without retrying. If the caller cancels fetch_with_retries, it stops
    the attempt that is running, starts no other, and ends cancelled.
    """
    # TODO: a loop over the attempts, with a timeout around each single attempt; a
    # TimeoutError means "try again", and running out of attempts means raise one.
    raise NotImplementedError("fetch_with_retries")


async def download(pool: Pool, url: str, *, time_limit: float) -> bytes:
    """Take a connection from `pool`, fetch `url` with it, and give it back.

    The whole download, waiting for a connection included, gets at most `time_limit`
    seconds; after that raise TimeoutError. Give the connection back with
    `await pool.release(conn)`, exactly once, before download returns or raises: on
    success, when fetch fails (its error is raised), on timeout, and when the caller
    cancels download (it then ends cancelled).
    """
    # TODO: one asyncio.timeout around everything; release the connection in `finally`.
    raise NotImplementedError("download")


class OrderService:
    """Saves orders. A save, once started, always runs to its end."""

    def __init__(self, save: Callable[[str], Awaitable[str]]) -> None:
        """Remember `save`, the coroutine function that saves one order and returns a receipt."""
        # TODO: keep `save`, and an empty list for saves that nobody is waiting for.
        raise NotImplementedError("OrderService.__init__")

    async def place(self, order: str, *, time_limit: float) -> str:
        """Start saving `order` and wait at most `time_limit` seconds for it to finish.

        Return the receipt that save gives back; if the save fails in time, raise its
        error. When time is up, raise TimeoutError, but don't stop the save: it goes on
        in the background until it is done. If the caller cancels place, the same: place
        ends cancelled and the save goes on.
        """
        # TODO: run the save as a task and wait for it through asyncio.shield, under a
        # timeout. If you stop waiting early, keep the task for drain(), then re-raise.
        raise NotImplementedError("OrderService.place")

    async def drain(self) -> None:
        """Wait until every save that place stopped waiting for has finished.

        If one of them failed, raise its error once they have all finished (with several
        failed, raise one of them, or all of them in an ExceptionGroup). A save is
        drained once: the next drain neither waits for it nor raises its error again.
        With nothing left to wait for, return at once.
        """
        # TODO: await the saves you kept, all together, then forget them; a failed one
        # must not stop you from waiting for the others.
        raise NotImplementedError("OrderService.drain")
