"""Kata 01 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from coroutines import double_result, greet, main


class NoNumberToday(Exception):
    """What a failing fake fetch raises."""


def make_fetch(value: int, delay: float = 1.0, *, error: Exception | None = None):
    """A fake async data source that remembers how often it was called.

    After `delay` seconds it returns `value`, or raises `error` if one is given.
    """
    calls: list[int] = []

    async def fetch() -> int:
        calls.append(1)
        await asyncio.sleep(delay)
        if error is not None:
            raise error
        return value

    return fetch, calls


async def call_double_result(fetch) -> int:
    """Call the learner's double_result, turning the classic mistakes into plain words."""
    try:
        result = await double_result(fetch)
    except TypeError as exc:
        if "coroutines is forbidden" in str(exc):  # asyncio.wait([fetch()])
            pytest.fail(
                "double_result passed a coroutine to asyncio.wait, which only accepts tasks "
                '("passing coroutines is forbidden"). There is just one thing to wait for '
                "here, so you don't need asyncio.wait at all: await fetch() itself."
            )
        if "coroutine" not in str(exc):
            raise
        pytest.fail(
            "double_result used the coroutine object that fetch() returns as if it were the "
            "number. Calling an async function only creates a coroutine; write "
            "`await fetch()` to run it and get its value."
        )
    except RuntimeError as exc:
        if "running event loop" not in str(exc):
            raise
        pytest.fail(
            "double_result called asyncio.run inside a coroutine. The event loop is already "
            "running here: just `await fetch()`."
        )
    if inspect.iscoroutine(result):
        result.close()
        pytest.fail(
            "double_result returned a coroutine object, not a number. Did you forget `await`?"
        )
    return result


async def test_greet_returns_the_greeting(deadline) -> None:
    assert inspect.iscoroutinefunction(greet), "greet must be defined with `async def`."
    async with deadline(60, "greet('Ada')"):
        result = await greet("Ada")
    assert result == "Hello, Ada!", f"greet('Ada') returned {result!r}; expected 'Hello, Ada!'."


async def test_greet_waits_without_blocking(looptime, deadline) -> None:
    async with deadline(60, "greet('Ada', delay=5)"):
        result = await greet("Ada", delay=5)
    assert result == "Hello, Ada!", f"greet returned {result!r}; expected 'Hello, Ada!'."
    assert looptime == 5, (
        f"greet('Ada', delay=5) took {float(looptime)} seconds of event-loop time; it should "
        "pause for exactly `delay` seconds with `await asyncio.sleep(delay)`."
    )


async def test_greet_waits_fractions_of_a_second_too(looptime, deadline) -> None:
    async with deadline(60, "greet('Bo', delay=0.25)"):
        result = await greet("Bo", delay=0.25)
    took = float(looptime)
    assert result == "Hello, Bo!", f"greet('Bo', ...) returned {result!r}; expected 'Hello, Bo!'."
    assert took == 0.25, (
        f"greet('Bo', delay=0.25) took {took} seconds of event-loop time, not 0.25. "
        "A delay need not be a whole number of seconds: pass it to asyncio.sleep as it is, "
        "without rounding it or waiting in steps of one second."
    )
    async with deadline(60, "greet('Cy', delay=1.5)"):
        await greet("Cy", delay=1.5)
    took = float(looptime) - took
    assert took == 1.5, (
        f"greet('Cy', delay=1.5) took {took} seconds of event-loop time, not 1.5. "
        "Pause for exactly `delay` seconds: no rounding, no one-second steps."
    )


async def test_greet_stops_when_it_is_cancelled(looptime, deadline) -> None:
    task = asyncio.create_task(greet("Ada", delay=10))
    await asyncio.sleep(1)
    task.cancel()
    async with deadline(60, "greet('Ada', delay=10) after it was cancelled"):
        await asyncio.wait([task])  # wait until it ends, whatever way it ends
    if not task.cancelled():
        result = await task  # raises greet's own error, if it had one
        pytest.fail(
            f"greet('Ada', delay=10) was cancelled after 1 second, but it went on and returned "
            f"{result!r}. A cancelled coroutine gets CancelledError at its `await`; let it "
            "through (don't catch it), so whoever cancelled it knows it has stopped."
        )
    assert looptime == 1, (
        f"greet was cancelled at 1 second but only stopped at {float(looptime)}. "
        "It should stop at once, at the `await asyncio.sleep(delay)`."
    )


async def test_double_result_awaits_fetch(looptime, deadline) -> None:
    fetch, calls = make_fetch(21)
    async with deadline(60, "double_result(fetch)"):
        result = await call_double_result(fetch)
    assert result == 42, f"fetch() gives 21, so double_result should return 42, not {result!r}."
    assert len(calls) == 1, (
        f"double_result called fetch {len(calls)} times; call it once, keep the value, "
        "and double that (every call is a new request)."
    )
    assert looptime == 1, f"fetch takes 1 second, but double_result took {float(looptime)} seconds."


async def test_double_result_doubles_any_number(looptime, deadline) -> None:
    for value, delay, expected in [(-7, 0.25, -14), (1000, 1.5, 2000), (0, 0.5, 0)]:
        fetch, calls = make_fetch(value, delay)
        start = float(looptime)
        async with deadline(60, f"double_result(fetch) where fetch gives {value}"):
            result = await call_double_result(fetch)
        took = float(looptime) - start
        assert result == expected, (
            f"fetch() gives {value}, so double_result should return {expected}, not {result!r}."
        )
        assert len(calls) == 1, f"double_result called fetch {len(calls)} times; call it once."
        assert took == delay, (
            f"fetch takes {delay} seconds, but double_result took {took}: it should take exactly "
            "as long as the one fetch it awaits."
        )


async def test_double_result_asks_again_on_every_call(deadline) -> None:
    readings = iter([21, 50])
    calls: list[int] = []

    async def fetch() -> int:  # a live source: every call gives the latest number
        calls.append(1)
        await asyncio.sleep(1)
        return next(readings)

    async with deadline(60, "the first double_result(fetch)"):
        first = await call_double_result(fetch)
    try:
        async with deadline(60, "the second double_result(fetch)"):
            second = await call_double_result(fetch)
    except RuntimeError as exc:
        if "already awaited" not in str(exc):
            raise
        pytest.fail(
            "The second double_result(fetch) raised RuntimeError: cannot reuse already "
            "awaited coroutine. A coroutine object runs only once, so it cannot be cached "
            "and handed out again (functools.cache on an async def does that). Let every "
            "call run fetch again."
        )
    assert (first, second) == (42, 100), (
        f"fetch gave 21, then 50; double_result(fetch) twice returned {first!r} and "
        f"{second!r}, expected 42 and 100. Every call should call fetch again and double "
        "what it gives now, not reuse an earlier answer."
    )
    assert len(calls) == 2, f"Two double_result calls called fetch {len(calls)} times."


async def test_double_result_lets_a_failing_fetch_raise(deadline) -> None:
    error = NoNumberToday("the number service is down")
    fetch, calls = make_fetch(21, error=error)
    raised: list[BaseException] = []
    result = None
    try:
        async with deadline(60, "double_result(fetch) with a failing fetch"):
            result = await call_double_result(fetch)
    except* NoNumberToday as group:  # the error itself, or inside an ExceptionGroup
        raised.extend(group.exceptions)
    assert raised, (
        f"fetch() raised NoNumberToday('the number service is down'), but double_result "
        f"returned {result!r} instead of raising it. When fetch fails there is no number to "
        "double: let its error reach the caller (don't catch it, and don't return it)."
    )
    assert raised == [error], f"double_result raised {raised!r}; expected fetch's own error."
    assert len(calls) == 1, f"double_result called fetch {len(calls)} times; call it once."


def spy_on_greet(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.AbstractEventLoop]:
    """Replace greet with a spy that notes the event loop of every call."""
    import coroutines

    loops: list[asyncio.AbstractEventLoop] = []
    real_greet = coroutines.greet

    async def spy_greet(name: str, delay: float = 0.0) -> str:
        loops.append(asyncio.get_running_loop())
        return await real_greet(name, delay)

    monkeypatch.setattr(coroutines, "greet", spy_greet)
    return loops


def call_main() -> str:
    result = main()
    if inspect.iscoroutine(result):
        result.close()
        pytest.fail(
            "main() returned a coroutine object. A coroutine does nothing until an event loop "
            "runs it: plain code enters async code through asyncio.run(...)."
        )
    return result


def test_main_runs_greet_on_a_fresh_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    loops = spy_on_greet(monkeypatch)
    result = call_main()
    assert result == "Hello, world!", f"main() returned {result!r}; expected 'Hello, world!'."
    assert len(loops) == 1, f"main() should call greet once; it called it {len(loops)} times."
    assert loops[0].is_closed(), (
        "main() ran greet on an event loop that is still open afterwards. Use "
        "`asyncio.run(...)`: it makes a fresh loop and closes it when done. "
        "`get_event_loop().run_until_complete(...)` is the old, deprecated style."
    )


def test_main_works_every_time_it_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    loops = spy_on_greet(monkeypatch)
    first = call_main()
    assert first == "Hello, world!", f"main() returned {first!r}; expected 'Hello, world!'."
    try:
        second = call_main()
    except RuntimeError as exc:
        if "closed" not in str(exc):
            raise
        pytest.fail(
            f"The first main() worked, the second raised RuntimeError({str(exc)!r}). main ran "
            "greet on an event loop made once and closed after the first call. Let every call "
            "make its own fresh loop: that is what asyncio.run(...) does."
        )
    assert second == "Hello, world!", (
        f"The second main() returned {second!r}; expected 'Hello, world!'."
    )
    assert len(loops) == 2, (
        f"main() was called twice but ran greet {len(loops)} time(s). Every call should run "
        "greet('world') on an event loop, not hand back an earlier result."
    )
    assert loops[0] is not loops[1] and all(loop.is_closed() for loop in loops), (
        "Each main() call should run greet on its own fresh event loop and close it "
        "afterwards, as asyncio.run(...) does."
    )
