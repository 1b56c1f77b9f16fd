"""Guards shared by every kata's tests.

They turn the classic async mistakes into plain-English failures:
blocking the event loop with `time.sleep`, a task whose error nobody saw,
a thread left running, and code that never finishes.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from checker.threads import is_idle_pool_worker

_real_sleep = time.sleep
_blocking_calls: list[str] = []


class BlockingCallError(AssertionError):
    """Raised inside learner code that calls time.sleep on the event loop's thread."""


def _guarded_sleep(seconds: float) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread: a worker thread or plain code
        _real_sleep(seconds)
        return
    _blocking_calls.append(f"time.sleep({seconds!r})")
    raise BlockingCallError(
        f"time.sleep({seconds!r}) was called inside a coroutine. It blocks the whole event "
        "loop: nothing else runs until it returns. Use `await asyncio.sleep(...)` instead."
    )


def pytest_configure(config: pytest.Config) -> None:
    # Installed before any learner module is imported, so `from time import sleep` is caught too.
    time.sleep = _guarded_sleep


def pytest_unconfigure(config: pytest.Config) -> None:
    time.sleep = _real_sleep


def _learner_threads() -> set[threading.Thread]:
    # The loop's own executor workers ("asyncio_0", ...) are shut down with the loop, and
    # an idle worker of a long-lived ThreadPoolExecutor is waiting for work, not leaking.
    return {
        t
        for t in threading.enumerate()
        if not t.name.startswith("asyncio_") and not is_idle_pool_worker(t)
    }


@pytest.fixture(autouse=True)
def _no_blocking_calls() -> Iterator[None]:
    _blocking_calls.clear()
    yield
    calls, _blocking_calls[:] = list(_blocking_calls), []
    assert not calls, (
        f"Your code blocked the event loop with {calls[0]}. A coroutine must never call "
        "time.sleep: use `await asyncio.sleep(...)`, or `await asyncio.to_thread(...)` for "
        "blocking work you cannot change."
    )


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = _learner_threads()
    yield

    def busy() -> list[threading.Thread]:
        return [t for t in _learner_threads() - before if t.is_alive()]

    deadline = time.monotonic() + 1.0  # a thread finishing its last step gets a moment
    while busy() and time.monotonic() < deadline:
        _real_sleep(0.01)
    still = [t.name for t in busy()]
    assert not still, (
        f"A thread your code started is still running after the test: {', '.join(still)}. "
        "Every thread must finish (or be stopped) before your function returns."
    )


@pytest.fixture(autouse=True)
async def _no_lost_task_errors() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    lost: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: lost.append(context))
    yield
    gc.collect()  # a forgotten task reports its error only when it is collected
    loop.set_exception_handler(previous)
    if lost:
        context = lost[0]
        error = context.get("exception")
        if error is None:  # "Task was destroyed but it is pending!"
            raise AssertionError(
                f"{context.get('message', 'A task was lost')} A task was thrown away while it "
                "was still running, because nothing kept a reference to it. Keep every task "
                "you create (in a list, set or TaskGroup) until it has finished."
            )
        raise AssertionError(
            f"{context.get('message', 'An error in the event loop')}: {error!r}. "
            "A task failed and nothing awaited it, so its error was lost. Keep a reference "
            "to every task you create and await it (or use asyncio.TaskGroup)."
        )


@pytest.fixture
def deadline() -> Callable[[float, str], AbstractAsyncContextManager[None]]:
    """`async with deadline(60, "what hung"):` fails with a message instead of hanging.

    Under virtual time a deadlock reaches the deadline at once, not after a real minute.
    """

    @asynccontextmanager
    async def _deadline(seconds: float, what: str) -> AsyncIterator[None]:
        timer = asyncio.timeout(seconds)
        try:
            async with timer:
                yield
        except TimeoutError:
            if not timer.expired():
                raise
            raise AssertionError(
                f"{what} did not finish within {seconds} seconds of event-loop time. Is something "
                "waiting for an event that never comes, or awaiting in an endless loop?"
            ) from None

    return _deadline


@dataclass
class Span:
    name: str
    start: float
    end: float | None = None


class Timeline:
    """What ran when, in event-loop time: fakes wrap each call in `with timeline.span(...)`.

    The checker draws it (`python -m checker check N --timeline`, and on failures) next
    to what the reference solution does, so "one after another" is seen at a glance.
    """

    def __init__(self) -> None:
        self.spans: list[Span] = []

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        span = Span(name, loop.time())
        self.spans.append(span)
        try:
            yield
        finally:
            span.end = loop.time()

    def rows(self) -> list[tuple[str, float, float | None]]:
        """(name, start, end) relative to the first start; end None: never finished."""
        if not self.spans:
            return []
        zero = min(s.start for s in self.spans)
        return [
            (s.name, s.start - zero, None if s.end is None else s.end - zero) for s in self.spans
        ]


@pytest.fixture
def timeline(request: pytest.FixtureRequest) -> Iterator[Timeline]:
    recorded = Timeline()
    yield recorded
    request.node.user_properties.append(("timeline", recorded.rows()))
