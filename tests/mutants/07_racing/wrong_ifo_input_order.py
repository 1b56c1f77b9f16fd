"""Mutant (blind review): In_finish_order awaits the tasks in input order, so a slow first
item holds back the faster ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


async def _stop(tasks: Sequence[asyncio.Task]) -> None:
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
        raise ValueError("no mirrors")
    tasks = [asyncio.create_task(fetch(mirror)) for mirror in mirrors]
    errors: list[Exception] = []
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
    """Like first_success, but start the mirrors one at a time, only when needed.

    Start mirrors[0] at once. Start the next mirror (in order) when `delay` seconds have
    passed since the last start without a success, and also at once whenever a running
    mirror fails (one new start per failure). Mirrors already running keep running: the
    first one to succeed wins, whichever it is. Then cancel the others that are running,
    wait until they have stopped, and return its answer; mirrors not started yet never
    start.

    If every mirror fails, raise an ExceptionGroup that holds each mirror's error (one per
    mirror, in any order). No mirrors at all: raise ValueError.
    If the caller cancels hedged, every mirror it started is cancelled and has stopped
    before the cancellation reaches the caller.
    """
    if not mirrors:
        raise ValueError("no mirrors")
    started: list[asyncio.Task] = []
    running: set[asyncio.Task] = set()
    errors: list[Exception] = []

    def start_next() -> None:
        if len(started) < len(mirrors):
            task = asyncio.create_task(fetch(mirrors[len(started)]))
            started.append(task)
            running.add(task)

    try:
        start_next()
        while running:
            timeout = delay if len(started) < len(mirrors) else None
            done, running = await asyncio.wait(
                running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                start_next()
                continue
            for task in done:
                if task.exception() is None:
                    return task.result()
            for task in done:
                errors.append(task.exception())
                start_next()
        raise ExceptionGroup("every mirror failed", errors)
    finally:
        await _stop(started)


async def in_finish_order(
    fetch: Callable[[K], Awaitable[T]], items: Sequence[K]
) -> AsyncIterator[tuple[K, T]]:
    """Fetch every item at once; yield an (item, result) pair the moment each one finishes.

    The pairs come in the order the fetches finish, each as soon as it is ready, not all
    at the end. An item listed twice is fetched twice and yields two pairs. No items:
    yield nothing.

    If a fetch fails, the pairs that finished before it are yielded, then its error is
    raised; the fetches still running are cancelled and have stopped before the error
    reaches the caller. The caller may stop reading early and close the generator
    (`contextlib.aclosing`): the fetches still running are then cancelled and have
    stopped by the time closing is done.
    """

    async def tagged(item: K) -> tuple[K, T]:
        return item, await fetch(item)

    tasks = [asyncio.create_task(tagged(item)) for item in items]
    try:
        for task in tasks:
            yield await task
    finally:
        await _stop(tasks)
