"""Kata 07: racing. Read README.md, then fill in each TODO."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


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
    # TODO: create a task per mirror; wait for them with asyncio.wait(FIRST_COMPLETED) or
    # asyncio.as_completed, skip failures; in a `finally`, cancel and await every task.
    raise NotImplementedError("first_success")


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
    # TODO: loop on asyncio.wait(running, timeout=delay, return_when=FIRST_COMPLETED);
    # a success ends the race, a failure or a timeout starts the next mirror.
    raise NotImplementedError("hedged")


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
    # TODO: create a task per item that returns (item, result); go through them with
    # asyncio.as_completed; in a `finally`, cancel and await the tasks still running.
    raise NotImplementedError("in_finish_order")
    yield  # this `yield` makes the function an async generator; keep a `yield` in yours
