"""Right answer: in_finish_order uses asyncio.wait(FIRST_COMPLETED) with a task-to-item dict;
hedged tracks the last start time itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


async def _stop(tasks: Iterable[asyncio.Task[T]]) -> None:
    """Cancel every task that is still running and wait until all of them have stopped."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def first_success(fetch: Callable[[str], Awaitable[T]], mirrors: Sequence[str]) -> T:
    """Ask every mirror at once with `fetch(mirror)`; return the first answer that succeeds.

    A mirror that raises an exception has failed: ignore it as long as another mirror may
    still answer. As soon as one succeeds, cancel the others and wait until they have
    stopped (their cleanup has run), then return its answer.

    If every mirror fails, raise an ExceptionGroup that holds each mirror's error (one per
    mirror, in any order). No mirrors at all: raise ValueError.
    If the caller cancels first_success, every mirror is cancelled and has stopped before
    the cancellation reaches the caller.
    """
    if not mirrors:
        raise ValueError("first_success needs at least one mirror")
    tasks = [asyncio.create_task(fetch(mirror)) for mirror in mirrors]
    errors: list[BaseException] = []
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is None:
                    return task.result()
                errors.append(error)
        raise ExceptionGroup("every mirror failed", errors)
    finally:
        await _stop(tasks)


async def hedged(fetch: Callable[[str], Awaitable[T]], mirrors: Sequence[str], delay: float) -> T:
    if len(mirrors) == 0:
        raise ValueError("no mirrors")
    loop = asyncio.get_running_loop()
    queue = list(mirrors)
    tasks: list[asyncio.Task[T]] = []
    errors: list[BaseException] = []
    last_start = 0.0

    def start() -> None:
        nonlocal last_start
        if queue:
            tasks.append(asyncio.create_task(fetch(queue.pop(0))))
            last_start = loop.time()

    try:
        start()
        while True:
            running = [t for t in tasks if not t.done()]
            if not running:
                break
            timeout = max(0.0, last_start + delay - loop.time()) if queue else None
            done, _ = await asyncio.wait(
                running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                start()
                continue
            for task in done:
                if task.exception() is None:
                    return task.result()
                errors.append(task.exception())
                start()
        raise ExceptionGroup("every mirror failed", errors)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except BaseException:
                pass


async def in_finish_order(
    fetch: Callable[[K], Awaitable[T]], items: Sequence[K]
) -> AsyncIterator[tuple[K, T]]:
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
        if item_of:
            await asyncio.wait(item_of)
