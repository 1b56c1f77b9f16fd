"""Mutant: in_finish_order collects the pairs in finishing order and returns a list instead
of yielding them.
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
        raise ValueError("hedged needs at least one mirror")
    waiting = iter(mirrors)
    started: list[asyncio.Task[T]] = []
    running: set[asyncio.Task[T]] = set()
    errors: list[BaseException] = []

    def start_next(count: int) -> None:
        for mirror in waiting:
            task = asyncio.create_task(fetch(mirror))
            started.append(task)
            running.add(task)
            count -= 1
            if count == 0:
                return

    try:
        start_next(1)
        while running:
            done, _ = await asyncio.wait(
                running, timeout=delay, return_when=asyncio.FIRST_COMPLETED
            )
            running.difference_update(done)
            failures = 0
            for task in done:
                error = task.exception()
                if error is None:
                    return task.result()
                errors.append(error)
                failures += 1
            start_next(failures if done else 1)  # a failure, or the delay is up
        raise ExceptionGroup("every mirror failed", errors)
    finally:
        await _stop(started)


async def in_finish_order(  # type: ignore[misc]
    fetch: Callable[[K], Awaitable[T]], items: Sequence[K]
) -> AsyncIterator[tuple[K, T]]:
    async def tagged(item: K) -> tuple[K, T]:
        return item, await fetch(item)

    return [await next_done for next_done in asyncio.as_completed([tagged(i) for i in items])]  # type: ignore[return-value]
