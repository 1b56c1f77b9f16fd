"""Right answer: a TaskGroup owns the attempts, each wrapped so a failure is returned, not
raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K")
T = TypeVar("T")


class Outcome(Generic[T]):
    """What one attempt ended with: a value, or the error it raised."""

    def __init__(self, value: Any = None, error: Exception | None = None) -> None:
        self.value = value
        self.error = error


async def settle(fetch: Callable[[str], Awaitable[T]], mirror: str) -> Outcome[T]:
    try:
        return Outcome(value=await fetch(mirror))
    except Exception as error:  # CancelledError still goes through
        return Outcome(error=error)


async def first_success(fetch: Callable[[str], Awaitable[T]], mirrors: Sequence[str]) -> T:
    """Ask every mirror at once; return the first answer that succeeds."""
    if not mirrors:
        raise ValueError("no mirrors")
    errors: list[Exception] = []
    async with asyncio.TaskGroup() as tg:
        attempts = [tg.create_task(settle(fetch, mirror)) for mirror in mirrors]
        for next_done in asyncio.as_completed(attempts):
            outcome = await next_done
            if outcome.error is None:
                for attempt in attempts:
                    attempt.cancel()
                return outcome.value  # the TaskGroup waits for the cancelled ones first
            errors.append(outcome.error)
    raise ExceptionGroup("every mirror failed", errors)


async def hedged(fetch: Callable[[str], Awaitable[T]], mirrors: Sequence[str], delay: float) -> T:
    """Like first_success, but start the mirrors one at a time, only when needed."""
    if not mirrors:
        raise ValueError("no mirrors")
    errors: list[Exception] = []
    upcoming = iter(mirrors)
    left = len(mirrors)
    async with asyncio.TaskGroup() as tg:
        running: set[asyncio.Task[Outcome[T]]] = set()

        def start_one() -> None:
            nonlocal left
            if left:
                left -= 1
                running.add(tg.create_task(settle(fetch, next(upcoming))))

        start_one()
        while running:
            done, running = await asyncio.wait(
                running, timeout=delay if left else None, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                start_one()
                continue
            outcomes = [task.result() for task in done]
            for outcome in outcomes:
                if outcome.error is None:
                    for task in running:
                        task.cancel()
                    return outcome.value
            for outcome in outcomes:
                errors.append(outcome.error)
                start_one()
    raise ExceptionGroup("every mirror failed", errors)


async def in_finish_order(
    fetch: Callable[[K], Awaitable[T]], items: Sequence[K]
) -> AsyncIterator[tuple[K, T]]:
    """Fetch every item at once; yield an (item, result) pair the moment each one finishes."""
    results: asyncio.Queue[tuple[K, Any, BaseException | None]] = asyncio.Queue()

    async def run(item: K) -> None:
        try:
            value = await fetch(item)
        except Exception as error:
            results.put_nowait((item, None, error))
        else:
            results.put_nowait((item, value, None))

    tasks = [asyncio.create_task(run(item)) for item in items]
    try:
        for _ in tasks:
            item, value, error = await results.get()
            if error is not None:
                raise error
            yield item, value
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
