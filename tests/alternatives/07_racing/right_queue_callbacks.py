"""Right answer: done-callbacks feed an asyncio.Queue; hedged waits on it under
asyncio.timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


async def _cancel_and_wait(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()
    for task in tasks:
        try:
            await task
        except BaseException:
            if not task.done():
                raise


async def first_success(fetch: Callable[[str], Awaitable[T]], mirrors: Sequence[str]) -> T:
    """Ask every mirror at once; return the first answer that succeeds."""
    if not mirrors:
        raise ValueError("no mirrors")
    finished: asyncio.Queue[asyncio.Task[T]] = asyncio.Queue()
    tasks: list[asyncio.Task[T]] = []
    try:
        for mirror in mirrors:
            task = asyncio.create_task(fetch(mirror))
            task.add_done_callback(finished.put_nowait)
            tasks.append(task)
        errors = []
        for _ in tasks:
            task = await finished.get()
            if task.cancelled():
                continue
            if task.exception() is None:
                return task.result()
            errors.append(task.exception())
        raise ExceptionGroup("every mirror failed", errors)
    finally:
        await _cancel_and_wait(tasks)


async def hedged(fetch: Callable[[str], Awaitable[T]], mirrors: Sequence[str], delay: float) -> T:
    """Like first_success, but start the mirrors one at a time, only when needed."""
    if not mirrors:
        raise ValueError("no mirrors")
    finished: asyncio.Queue[asyncio.Task[T]] = asyncio.Queue()
    tasks: list[asyncio.Task[T]] = []

    def start(index: int) -> None:
        task = asyncio.create_task(fetch(mirrors[index]))
        task.add_done_callback(finished.put_nowait)
        tasks.append(task)

    errors = []
    try:
        start(0)
        while len(errors) < len(mirrors):
            try:
                wait = delay if len(tasks) < len(mirrors) else None
                async with asyncio.timeout(wait):
                    task = await finished.get()
            except TimeoutError:
                start(len(tasks))
                continue
            if task.exception() is None:
                return task.result()
            errors.append(task.exception())
            if len(tasks) < len(mirrors):
                start(len(tasks))
        raise ExceptionGroup("every mirror failed", errors)
    finally:
        await _cancel_and_wait(tasks)


async def in_finish_order(
    fetch: Callable[[K], Awaitable[T]], items: Sequence[K]
) -> AsyncIterator[tuple[K, T]]:
    """Fetch every item at once; yield an (item, result) pair the moment each one finishes."""
    finished: asyncio.Queue[tuple[K, asyncio.Task[T]]] = asyncio.Queue()
    tasks: list[asyncio.Task[T]] = []
    try:
        for item in items:
            task = asyncio.create_task(fetch(item))
            task.add_done_callback(lambda t, item=item: finished.put_nowait((item, t)))
            tasks.append(task)
        for _ in range(len(tasks)):
            item, task = await finished.get()
            yield item, task.result()
    finally:
        await _cancel_and_wait(tasks)
