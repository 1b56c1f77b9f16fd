"""Right answer: as_completed over own tasks with try/except, a deadline clock for hedged, a
task->item dict for in_finish_order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


async def first_success(fetch: Callable[[str], Awaitable[T]], mirrors: Sequence[str]) -> T:
    """Ask every mirror at once; return the first answer that succeeds."""
    if len(mirrors) == 0:
        raise ValueError("first_success needs at least one mirror")
    tasks = [asyncio.create_task(fetch(mirror)) for mirror in mirrors]
    try:
        errors = []
        for next_done in asyncio.as_completed(tasks):
            try:
                return await next_done
            except Exception as error:  # a mirror failed; CancelledError is not caught
                errors.append(error)
        raise ExceptionGroup("every mirror failed", errors)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def hedged(fetch: Callable[[str], Awaitable[T]], mirrors: Sequence[str], delay: float) -> T:
    """Like first_success, but start the mirrors one at a time, only when needed."""
    if len(mirrors) == 0:
        raise ValueError("hedged needs at least one mirror")
    loop = asyncio.get_running_loop()
    queue = list(mirrors)
    started: list[asyncio.Task[T]] = []
    errors: list[BaseException] = []
    deadline = 0.0

    def launch() -> None:
        nonlocal deadline
        started.append(asyncio.create_task(fetch(queue.pop(0))))
        deadline = loop.time() + delay

    try:
        launch()
        while True:
            running = [task for task in started if not task.done()]
            if not running:
                break
            timeout = max(0.0, deadline - loop.time()) if queue else None
            done, _ = await asyncio.wait(
                running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            winners = [task for task in done if task.exception() is None]
            if winners:
                return winners[0].result()
            for task in done:
                errors.append(task.exception())
                if queue:
                    launch()
            if not done and queue:
                launch()
        raise ExceptionGroup("every mirror failed", errors)
    finally:
        for task in started:
            task.cancel()
        await asyncio.gather(*started, return_exceptions=True)


async def in_finish_order(
    fetch: Callable[[K], Awaitable[T]], items: Sequence[K]
) -> AsyncIterator[tuple[K, T]]:
    """Fetch every item at once; yield an (item, result) pair the moment each one finishes."""
    item_of = {asyncio.create_task(fetch(item)): item for item in items}
    pending = set(item_of)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield item_of[task], task.result()
    finally:
        for task in item_of:
            task.cancel()
        await asyncio.gather(*item_of, return_exceptions=True)
