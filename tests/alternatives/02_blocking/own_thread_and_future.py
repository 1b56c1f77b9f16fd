"""Right answer: checksum starts its own thread, which hands the result (or the error) to an
asyncio future with call_soon_threadsafe; brew waits on a call_later timer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


async def brew(name: str, seconds: float) -> str:
    """Wait `seconds` without blocking the event loop, then return "<name> ready"."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    timer = loop.call_later(seconds, ready.set_result, None)
    try:
        await ready
    finally:
        timer.cancel()
    return name + " ready"


async def checksum(data: bytes, slow_hash: Callable[[bytes], str]) -> str:
    """Return `slow_hash(data)`, running the blocking `slow_hash` in a worker thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(result: str | None, error: BaseException | None) -> None:
        if future.cancelled():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result = slow_hash(data)
        except BaseException as error:  # hand every error to the awaiting coroutine
            loop.call_soon_threadsafe(deliver, None, error)
        else:
            loop.call_soon_threadsafe(deliver, result, None)

    threading.Thread(target=work, name="checksum-worker").start()
    return await future
