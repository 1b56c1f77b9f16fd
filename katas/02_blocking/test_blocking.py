"""Kata 02 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import pickle
import threading
from collections.abc import AsyncIterator, Iterator

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


class LoopTurns:
    """Counts the turns of the event loop, from a coroutine that yields at every turn.

    A free event loop turns thousands of times in a few milliseconds; a loop that is
    blocked, even now and then for a short moment, turns far less often.
    """

    def __init__(self) -> None:
        self.count = 0
        self._goal: tuple[int, threading.Event] | None = None

    async def spin(self) -> None:
        while True:
            self.count += 1
            if self._goal is not None and self.count >= self._goal[0]:
                self._goal[1].set()
            await asyncio.sleep(0)

    def wait_for(self, turns: int, timeout: float) -> int:
        """From another thread: wait until the loop has turned `turns` more times.

        Gives up after `timeout` real seconds, and returns how many turns it saw.
        """
        start, reached = self.count, threading.Event()
        self._goal = (start + turns, reached)
        reached.wait(timeout)
        self._goal = None
        return self.count - start


@contextlib.asynccontextmanager
async def counting_loop_turns() -> AsyncIterator[LoopTurns]:
    turns = LoopTurns()
    task = asyncio.create_task(turns.spin())
    try:
        yield turns
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# While slow_hash runs, a free loop turns these many times in about 10 ms on this
# project's machines; slow_hash waits for them for up to a (real) second.
TURNS_WANTED = 2000
TURNS_TIMEOUT = 1.0


class LoopClock:
    """The event loop's clock, which a fake can move forward as if time had passed.

    This lets a test act out a hash that takes many seconds without waiting for them.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.offset = 0.0
        self._real_time = loop.time

    def time(self) -> float:
        return self._real_time() + self.offset


@contextlib.contextmanager
def movable_loop_clock() -> Iterator[LoopClock]:
    loop = asyncio.get_running_loop()
    clock = LoopClock(loop)
    loop.time = clock.time  # type: ignore[method-assign]
    try:
        yield clock
    finally:
        del loop.time


class SlowHash:
    """A fake blocking hash function, like one from a library you cannot change.

    It notes which thread runs it. Options act out more of a real slow hash:
    - `loop_turns`: while it runs, it checks that the event loop stays free the whole
      time: it waits until the loop has taken many turns in a row (a free loop does that
      in milliseconds);
    - `error`: it raises that instead of returning a hash;
    - `barrier`: it waits there until the other hashes sharing the barrier run too;
    - `clock` and `takes`: it moves the event loop's clock `takes` seconds forward, as if
      hashing had taken that long.
    """

    def __init__(
        self,
        *,
        loop_turns: LoopTurns | None = None,
        error: Exception | None = None,
        barrier: threading.Barrier | None = None,
        clock: LoopClock | None = None,
        takes: float = 0.0,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.loop_turns = loop_turns
        self.error = error
        self.barrier = barrier
        self.clock = clock
        self.takes = takes
        self.threads: list[int] = []
        self.turns_seen: list[int] = []
        self.met_the_others: list[bool] = []

    def __call__(self, data: bytes) -> str:
        self.threads.append(threading.get_ident())
        # On the loop's own thread nothing else can run, so don't wait for anything there.
        off_the_loop = threading.get_ident() != self.loop_thread
        if self.loop_turns is not None and off_the_loop:
            self.turns_seen.append(self.loop_turns.wait_for(TURNS_WANTED, TURNS_TIMEOUT))
        if self.barrier is not None and off_the_loop:
            try:
                self.barrier.wait()
                self.met_the_others.append(True)
            except threading.BrokenBarrierError:
                self.met_the_others.append(False)
        if self.clock is not None and off_the_loop:
            self.clock.offset += self.takes
            # Let the loop see the time go by while the hash is still running.
            seen = threading.Event()
            self.loop.call_soon_threadsafe(seen.set)
            seen.wait(timeout=1)
        if self.error is not None:
            raise self.error
        return hashlib.sha256(data).hexdigest()

    @property
    def ran_on_loop_thread(self) -> bool:
        return self.loop_thread in self.threads


# slow_hash runs in a real thread, on the real clock. Virtual time cannot see every way
# of waiting for a thread, so the checksum tests run in real time, with short deadlines.
real_time = pytest.mark.looptime(False)


NEVER_CALLED = (
    "checksum never called slow_hash. Did it hand back a result kept from an earlier call? "
    "Every call must hash its data with the slow_hash it is given."
)


async def call_checksum(data: bytes, slow_hash: SlowHash) -> str:
    """Call the learner's checksum, turning the classic mistakes into plain words."""
    try:
        result = await checksum(data, slow_hash)
    except (TypeError, pickle.PicklingError) as exc:
        if "pickle" in str(exc) or isinstance(exc, pickle.PicklingError):
            pytest.fail(
                "checksum sent slow_hash to another process, which has to pickle it; this one "
                "cannot be pickled, and many plain functions can't. Blocking work like this "
                "belongs in a worker thread of this process: asyncio.to_thread."
            )
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


async def test_brew_waits_fractions_of_a_second_too(looptime, deadline) -> None:
    async with deadline(60, "brew('tea', 0.25)"):
        result = await brew("tea", 0.25)
    took = float(looptime)
    assert result == "tea ready", f"brew('tea', 0.25) returned {result!r}; expected 'tea ready'."
    assert took == 0.25, (
        f"brew('tea', 0.25) took {took} seconds of event-loop time, not 0.25. `seconds` need "
        "not be a whole number: pass it to asyncio.sleep as it is, without rounding it or "
        "waiting in steps of one second."
    )
    async with deadline(60, "brew('mate', 1.5)"):
        await brew("mate", 1.5)
    took = float(looptime) - took
    assert took == 1.5, (
        f"brew('mate', 1.5) took {took} seconds of event-loop time, not 1.5. Pause for "
        "exactly `seconds`: no rounding, no one-second steps."
    )


async def test_brew_stops_when_it_is_cancelled(looptime, deadline) -> None:
    task = asyncio.create_task(brew("tea", 10))
    await asyncio.sleep(1)
    if task.done():
        result = await task  # raises brew's own error, if it had one
        pytest.fail(
            f"brew('tea', 10) returned {result!r} within 1 second; it should still be "
            "waiting, for 10 seconds, with `await asyncio.sleep(seconds)`."
        )
    task.cancel()
    async with deadline(60, "brew('tea', 10) after it was cancelled"):
        await asyncio.wait([task])  # wait until it ends, whatever way it ends
    if not task.cancelled():
        result = await task  # raises brew's own error, if it had one
        pytest.fail(
            f"brew('tea', 10) was cancelled after 1 second, but it went on and returned "
            f"{result!r}. A cancelled coroutine gets CancelledError at its `await`; let it "
            "through (don't catch it), so whoever cancelled it knows it has stopped."
        )
    assert looptime == 1, (
        f"brew was cancelled at 1 second but only stopped at {float(looptime)}. It should "
        "stop at once, at its `await asyncio.sleep(...)`."
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
    async with deadline(2, "checksum(b'', slow_hash)"):
        result = await call_checksum(b"", slow_hash)
    expected = hashlib.sha256(b"").hexdigest()
    assert result == expected, (
        f"checksum(b'', slow_hash) returned {result!r}; expected what slow_hash(b'') returns: "
        f"{expected!r}. Empty data has a hash too: hand every input to slow_hash."
    )


@real_time
async def test_checksum_runs_slow_hash_in_a_worker_thread(deadline) -> None:
    slow_hash = SlowHash()
    async with deadline(2, "checksum(b'kata', slow_hash)"):
        await call_checksum(b"kata", slow_hash)
    assert slow_hash.threads, NEVER_CALLED
    assert not slow_hash.ran_on_loop_thread, (
        "slow_hash ran on the event loop's own thread, so the whole loop waited for it. "
        "Send blocking work to a worker thread: `await asyncio.to_thread(slow_hash, data)`."
    )


@real_time
async def test_checksum_keeps_the_loop_free_while_hashing(deadline) -> None:
    async with counting_loop_turns() as turns:
        slow_hash = SlowHash(loop_turns=turns)
        async with deadline(2, "checksum(b'kata', slow_hash)"):
            await call_checksum(b"kata", slow_hash)
    assert slow_hash.threads, NEVER_CALLED
    assert not slow_hash.ran_on_loop_thread, (
        "slow_hash ran on the event loop's own thread, so the loop could do nothing else "
        "meanwhile. Use `await asyncio.to_thread(slow_hash, data)`."
    )
    seen = slow_hash.turns_seen[0]
    assert seen > 0, (
        "slow_hash ran in another thread, but the event loop was stuck waiting for it: it "
        "could not run anything else until the hash was done. Waiting for the thread must "
        "be an `await`, e.g. `await asyncio.to_thread(slow_hash, data)`, not a blocking "
        "call such as `future.result()` or `thread.join()`."
    )
    assert seen >= TURNS_WANTED, (
        f"While slow_hash ran in its thread, the event loop took only {seen} turns in "
        f"{TURNS_TIMEOUT:g} second; a free loop takes {TURNS_WANTED} in a few milliseconds. "
        "So the loop was blocked most of the time, in short slices: waiting for the thread "
        "with a timeout in a loop (`join(timeout=...)`, `result(timeout=...)`) still blocks "
        "for each slice. Await the result instead: `await asyncio.to_thread(...)` hands the "
        "loop back until the thread is done."
    )


@real_time
async def test_checksum_lets_an_error_in_slow_hash_raise(deadline) -> None:
    error = ValueError("cannot hash a file that is still being written")
    slow_hash = SlowHash(error=error)
    raised: list[BaseException] = []
    result = None
    try:
        async with deadline(2, "checksum(b'kata', slow_hash) with a failing slow_hash"):
            result = await call_checksum(b"kata", slow_hash)
    except* ValueError as group:  # the error itself, or inside an ExceptionGroup
        raised.extend(group.exceptions)
    assert raised, (
        f"slow_hash raised ValueError({str(error)!r}), but checksum returned {result!r} "
        "instead of raising it. There is no hash to return: let the error reach the caller "
        "(awaiting the worker thread's result re-raises it there; don't catch it or return it)."
    )
    assert raised == [error], f"checksum raised {raised!r}; expected slow_hash's own error."
    assert len(slow_hash.threads) == 1, (
        f"checksum called slow_hash {len(slow_hash.threads)} times; call it once."
    )


@real_time
async def test_checksum_hashes_several_files_at_once(deadline) -> None:
    together = threading.Barrier(3, timeout=1)
    files = [b"one", b"two", b"three"]
    slow_hashes = [SlowHash(barrier=together) for _ in files]
    async with deadline(5, "three checksum(...) calls at once"):
        results = await asyncio.gather(
            *(
                call_checksum(data, slow_hash)
                for data, slow_hash in zip(files, slow_hashes, strict=True)
            )
        )
    assert results == [hashlib.sha256(data).hexdigest() for data in files], (
        f"Three checksums at once returned {results!r}; expected the hash of each file."
    )
    assert not any(slow_hash.ran_on_loop_thread for slow_hash in slow_hashes), (
        "slow_hash ran on the event loop's own thread, so the calls could only run one after "
        "another. Use `await asyncio.to_thread(slow_hash, data)`."
    )
    met = [met for slow_hash in slow_hashes for met in slow_hash.met_the_others]
    assert met and all(met), (
        "Three checksums were started at the same time, but their slow_hash calls did not "
        "all run at the same time: they waited for one another. Give every call a worker "
        "thread of its own, from a pool with several (asyncio.to_thread does), not a "
        "single shared thread or a lock around the hash."
    )


@real_time
async def test_checksum_waits_as_long_as_slow_hash_takes(deadline) -> None:
    async with deadline(60, "checksum(b'big file', slow_hash) on a hash that takes 10 seconds"):
        with movable_loop_clock() as clock:
            slow_hash = SlowHash(clock=clock, takes=10)
            try:
                result = await call_checksum(b"big file", slow_hash)
            except TimeoutError:
                pytest.fail(
                    "slow_hash took 10 seconds (the test moved the event loop's clock on, as "
                    "if it had), and checksum gave up with TimeoutError. Nothing asks for a "
                    "time limit here: a slow hash is still the right answer, so wait for it "
                    "as long as it takes."
                )
    expected = hashlib.sha256(b"big file").hexdigest()
    assert result == expected, f"checksum returned {result!r}; expected {expected!r}."
