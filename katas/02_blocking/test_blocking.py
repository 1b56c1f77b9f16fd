"""Kata 02 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import threading
from collections.abc import AsyncIterator

import pytest
from blocking import brew, checksum


@contextlib.asynccontextmanager
async def ticking(every: float) -> AsyncIterator[list[float]]:
    """Run a ticker coroutine in the background; it notes the loop time at every tick.

    It only ticks while the event loop is free to run it.
    """
    loop = asyncio.get_running_loop()
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            await asyncio.sleep(every)
            ticks.append(loop.time())

    task = asyncio.create_task(ticker())
    try:
        yield ticks
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class SlowHash:
    """A fake blocking hash function, like one from a library you cannot change.

    It notes which thread runs it. With `check_loop=True` it also checks, while it runs,
    that the event loop is still free: it asks the loop to set a flag and waits up to
    1 (real) second for that.
    """

    def __init__(self, *, check_loop: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.check_loop = check_loop
        self.threads: list[int] = []
        self.loop_answered: list[bool] = []

    def __call__(self, data: bytes) -> str:
        self.threads.append(threading.get_ident())
        # On the loop's own thread nobody could answer, so don't wait there.
        if self.check_loop and threading.get_ident() != self.loop_thread:
            answered = threading.Event()
            self.loop.call_soon_threadsafe(answered.set)
            self.loop_answered.append(answered.wait(timeout=1))
        return hashlib.sha256(data).hexdigest()

    @property
    def ran_on_loop_thread(self) -> bool:
        return self.loop_thread in self.threads


# slow_hash runs in a real thread, on the real clock. Virtual time cannot see every way
# of waiting for a thread, so the checksum tests run in real time, with short deadlines.
real_time = pytest.mark.looptime(False)


async def call_checksum(data: bytes, slow_hash: SlowHash) -> str:
    """Call the learner's checksum, turning the classic mistakes into plain words."""
    try:
        result = await checksum(data, slow_hash)
    except TypeError as exc:
        if "not callable" not in str(exc):
            raise
        pytest.fail(
            "asyncio.to_thread got the result of slow_hash(data) instead of the function. "
            "`to_thread(slow_hash(data))` calls slow_hash right away, on the event loop. "
            "Pass the function and its argument separately: "
            "`await asyncio.to_thread(slow_hash, data)`."
        )
    if inspect.iscoroutine(result):
        result.close()
        pytest.fail(
            "checksum returned a coroutine object, not the hash. asyncio.to_thread(...) "
            "gives you something to await: `return await asyncio.to_thread(slow_hash, data)`."
        )
    return result


async def test_brew_returns_the_ready_message(deadline) -> None:
    assert inspect.iscoroutinefunction(brew), "brew must be defined with `async def`."
    async with deadline(60, "brew('tea', 0)"):
        result = await brew("tea", 0)
    assert result == "tea ready", f"brew('tea', 0) returned {result!r}; expected 'tea ready'."


async def test_brew_waits_the_given_seconds(looptime, deadline) -> None:
    async with deadline(60, "brew('tea', 3)"):
        result = await brew("tea", 3)
    assert result == "tea ready", f"brew('tea', 3) returned {result!r}; expected 'tea ready'."
    assert looptime == 3, (
        f"brew('tea', 3) took {float(looptime)} seconds of event-loop time; it should pause "
        "for exactly `seconds` with `await asyncio.sleep(seconds)`. (Waiting that blocks the "
        "loop does not count as loop time: the loop is frozen meanwhile.)"
    )


async def test_brew_lets_other_coroutines_run(looptime, deadline) -> None:
    async with ticking(every=0.5) as ticks:
        async with deadline(60, "brew('coffee', 2)"):
            result = await brew("coffee", 2)
        brewed_at = float(looptime)
    assert result == "coffee ready", (
        f"brew('coffee', 2) returned {result!r}; expected 'coffee ready'."
    )
    assert brewed_at == 2, (
        f"brew('coffee', 2) finished after {brewed_at} seconds of event-loop time, not 2. "
        "Pause with `await asyncio.sleep(seconds)`."
    )
    assert len(ticks) >= 3, (
        f"While brew('coffee', 2) ran, a ticker coroutine that ticks every 0.5 s ticked only "
        f"{len(ticks)} times (at {ticks}); it should have ticked at 0.5, 1.0 and 1.5. "
        "brew kept the event loop to itself. Wait with `await asyncio.sleep(...)`: each "
        "`await` hands the loop back so other coroutines can run."
    )


@real_time
async def test_checksum_returns_what_slow_hash_returns(deadline) -> None:
    assert inspect.iscoroutinefunction(checksum), "checksum must be defined with `async def`."
    slow_hash = SlowHash()
    async with deadline(2, "checksum(b'kata', slow_hash)"):
        result = await call_checksum(b"kata", slow_hash)
    expected = hashlib.sha256(b"kata").hexdigest()
    assert result == expected, (
        f"checksum returned {result!r}; expected what slow_hash(b'kata') returns: {expected!r}."
    )
    assert len(slow_hash.threads) == 1, (
        f"checksum called slow_hash {len(slow_hash.threads)} times; call it once."
    )


@real_time
async def test_checksum_runs_slow_hash_in_a_worker_thread(deadline) -> None:
    slow_hash = SlowHash()
    async with deadline(2, "checksum(b'kata', slow_hash)"):
        await call_checksum(b"kata", slow_hash)
    assert slow_hash.threads, "checksum never called slow_hash."
    assert not slow_hash.ran_on_loop_thread, (
        "slow_hash ran on the event loop's own thread, so the whole loop waited for it. "
        "Send blocking work to a worker thread: `await asyncio.to_thread(slow_hash, data)`."
    )


@real_time
async def test_checksum_keeps_the_loop_free_while_hashing(deadline) -> None:
    slow_hash = SlowHash(check_loop=True)
    async with deadline(2, "checksum(b'kata', slow_hash)"):
        await call_checksum(b"kata", slow_hash)
    assert slow_hash.threads, "checksum never called slow_hash."
    assert not slow_hash.ran_on_loop_thread, (
        "slow_hash ran on the event loop's own thread, so the loop could do nothing else "
        "meanwhile. Use `await asyncio.to_thread(slow_hash, data)`."
    )
    assert all(slow_hash.loop_answered), (
        "slow_hash ran in another thread, but the event loop was stuck waiting for it: it "
        "could not run anything else until the hash was done. Waiting for the thread must "
        "be an `await`, e.g. `await asyncio.to_thread(slow_hash, data)`, not a blocking "
        "call such as `future.result()` or `thread.join()`."
    )
