"""Kata 01 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from coroutines import double_result, greet, main


def make_fetch(value: int, delay: float = 1.0):
    """A fake async data source that remembers how often it was called."""
    calls: list[int] = []

    async def fetch() -> int:
        calls.append(1)
        await asyncio.sleep(delay)
        return value

    return fetch, calls


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


async def test_double_result_awaits_fetch(looptime, deadline) -> None:
    fetch, calls = make_fetch(21)
    try:
        async with deadline(60, "double_result(fetch)"):
            result = await double_result(fetch)
    except TypeError as exc:
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
    assert not inspect.iscoroutine(result), (
        "double_result returned a coroutine object, not a number. Did you forget `await`?"
    )
    assert result == 42, f"fetch() gives 21, so double_result should return 42, not {result!r}."
    assert len(calls) == 1, (
        f"double_result called fetch {len(calls)} times; call it once, keep the value, "
        "and double that (every call is a new request)."
    )
    assert looptime == 1, f"fetch takes 1 second, but double_result took {float(looptime)} seconds."


def test_main_runs_greet_on_a_fresh_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import coroutines

    loops: list[asyncio.AbstractEventLoop] = []
    real_greet = coroutines.greet

    async def spy_greet(name: str, delay: float = 0.0) -> str:
        loops.append(asyncio.get_running_loop())
        return await real_greet(name, delay)

    monkeypatch.setattr(coroutines, "greet", spy_greet)
    result = main()
    if inspect.iscoroutine(result):
        result.close()
        pytest.fail(
            "main() returned a coroutine object. A coroutine does nothing until an event loop "
            "runs it: `return asyncio.run(greet('world'))`."
        )
    assert result == "Hello, world!", f"main() returned {result!r}; expected 'Hello, world!'."
    assert len(loops) == 1, f"main() should call greet once; it called it {len(loops)} times."
    assert loops[0].is_closed(), (
        "main() ran greet on an event loop that is still open afterwards. Use "
        "`asyncio.run(...)`: it makes a fresh loop and closes it when done. "
        "`get_event_loop().run_until_complete(...)` is the old, deprecated style."
    )
