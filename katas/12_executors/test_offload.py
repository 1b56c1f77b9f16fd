"""Kata 12 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import math
import multiprocessing
import operator
import os
import pickle
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import offload
import pytest
from offload import crunch_all, fetch_all

# Threads and processes run on the real clock, which virtual time cannot move. These tests
# run in real time; everything they wait for takes milliseconds, and each wait has a
# generous limit.
pytestmark = pytest.mark.looptime(False)

WAIT = 0.5  # seconds a fake call waits for another thread before it gives up
SETTLE = 0.05  # seconds the first calls stay, so that calls over the limit can show up


class FetchError(Exception):
    """What the fake fetch raises for a url that is meant to fail."""


class FakeFetch:
    """A fake blocking fetch, like `requests.get`: meant to be called in a worker thread.

    fetch(url) returns f"<{url}>".encode(). It notes every call, the threads that ran
    it, and the most calls that were running at the same moment. Optional checks:

    - `meet=n`: the first n calls wait for each other at a threading.Barrier, which only
      calls running at the same time get past (it gives up after WAIT seconds); then they
      stay a moment (SETTLE seconds), long enough for any call over the limit to start;
    - `hold_first=True`: the first call also waits until call number `meet + 1` has
      started, which only happens if a thread takes the next url as soon as it is free;
    - `then={"a": "b"}`: fetch("a") waits until fetch("b") has finished;
    - `watch_loop=True`: each call waits until the event loop has run a ticker task a few
      more times, which it only does if the loop is free while the call runs.
    """

    def __init__(
        self,
        *,
        meet: int = 0,
        settle: bool = True,
        hold_first: bool = False,
        then: dict[str, str] | None = None,
        failing: frozenset[str] = frozenset(),
        watch_loop: bool = False,
    ) -> None:
        self.loop_thread = threading.get_ident()
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.threads: set[threading.Thread] = set()
        self.in_flight = 0
        self.peak = 0
        self.meet = meet
        self.barrier = threading.Barrier(meet, timeout=WAIT) if meet else None
        self.met = 0
        self.settle = settle
        self.crowded = threading.Event()
        self.hold_first = hold_first
        self.next_started = threading.Event()
        self.first_held_in_vain = False
        self.then = then or {}
        self.finished: dict[str, threading.Event] = {}
        self.failing = failing
        self.watch_loop = watch_loop
        self.ticks = 0
        self.loop_stuck = False
        self.ran_on_loop_thread = False

    def __call__(self, url: str) -> bytes:
        with self.lock:
            number = len(self.calls)
            self.calls.append(url)
            self.threads.add(threading.current_thread())
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self.meet and self.in_flight > self.meet:
                self.crowded.set()  # over the limit: no need to wait any longer
            self.finished.setdefault(url, threading.Event())
        try:
            if threading.get_ident() == self.loop_thread:
                self.ran_on_loop_thread = True  # nobody could answer here: don't wait
            else:
                self._wait_for_others(number, url)
            if url in self.failing:
                raise FetchError(f"cannot fetch {url}")
            return f"<{url}>".encode()
        finally:
            with self.lock:
                self.in_flight -= 1
                self.finished[url].set()

    def _wait_for_others(self, number: int, url: str) -> None:
        if number == self.meet:
            self.next_started.set()
        if self.barrier is not None and number < self.meet:
            try:
                self.barrier.wait()
                with self.lock:
                    self.met += 1
            except threading.BrokenBarrierError:
                pass  # the test reports it: fewer than `meet` calls ran at once
            else:
                if self.settle:
                    self.crowded.wait(SETTLE)
        if self.hold_first and number == 0 and not self.next_started.wait(WAIT):
            self.first_held_in_vain = True
        if url in self.then:
            with self.lock:
                other = self.finished.setdefault(self.then[url], threading.Event())
            other.wait(WAIT)
        if self.watch_loop and not self.loop_stuck:
            start, give_up = self.ticks, time.monotonic() + WAIT
            while self.ticks < start + 3:
                if time.monotonic() > give_up:
                    self.loop_stuck = True
                    break
                time.sleep(0.001)

    async def tick(self) -> None:
        """The ticker task: counts turns of the event loop, one every millisecond."""
        while True:
            await asyncio.sleep(0.001)
            self.ticks += 1

    def threads_left(self) -> list[str]:
        """Threads that ran fetch and are still alive (the loop's own pool excepted)."""
        return sorted(
            t.name
            for t in self.threads
            if t.is_alive() and not t.name.startswith("asyncio_") and t.ident != self.loop_thread
        )


def page(url: str) -> bytes:
    return f"<{url}>".encode()


async def call_fetch_all(fetch: FakeFetch, urls: Any, max_threads: int) -> list[bytes]:
    """Call the learner's fetch_all; fetch run on the loop's thread becomes a message."""
    try:
        result = await fetch_all(fetch, urls, max_threads=max_threads)
    except TypeError as exc:
        if "not callable" not in str(exc) or not fetch.ran_on_loop_thread:
            raise
        pytest.fail(
            "The pool got the result of fetch(url) instead of the function: "
            "`asyncio.to_thread(fetch(url))` or `run_in_executor(pool, fetch(url))` calls fetch "
            "right away, on the event loop. Pass the function and its argument separately: "
            "`loop.run_in_executor(pool, fetch, url)`."
        )
    if fetch.ran_on_loop_thread:
        pytest.fail(
            "fetch ran on the event loop's own thread, so the whole loop waited for it. "
            "Hand it to a thread pool and await the result: "
            "`await loop.run_in_executor(pool, fetch, url)` (or asyncio.to_thread)."
        )
    return result


async def test_fetch_all_returns_results_in_the_order_of_urls(deadline) -> None:
    # "c" finishes first, then "b", then "a": the reverse of the order of urls.
    fetch = FakeFetch(then={"a": "b", "b": "c"})
    urls = ["a", "b", "c"]
    async with deadline(5, "fetch_all(fetch, ['a', 'b', 'c'], max_threads=3)"):
        result = await call_fetch_all(fetch, urls, 3)
    assert isinstance(result, list), f"fetch_all returned {result!r}; return a list."
    assert result == [b"<a>", b"<b>", b"<c>"], (
        f"fetch_all returned {result!r}; expected [b'<a>', b'<b>', b'<c>']. The results must "
        "line up with urls, not with the order the fetches finished (here c, b, a). "
        "asyncio.gather keeps the order you pass things in; as_completed does not."
    )


async def test_fetch_all_runs_max_threads_fetches_at_a_time(deadline) -> None:
    fetch = FakeFetch(meet=3, hold_first=True)
    urls = [f"u{i}" for i in range(9)]
    async with deadline(5, "fetch_all(fetch, 9 urls, max_threads=3)"):
        result = await call_fetch_all(fetch, urls, 3)
    assert result == [page(url) for url in urls], (
        f"fetch_all returned {result!r}; expected one result per url, in the order of urls."
    )
    assert fetch.peak <= 3, (
        f"{fetch.peak} fetches ran at the same moment with max_threads=3. Run them in a pool "
        "of exactly max_threads threads (ThreadPoolExecutor(max_workers=max_threads)), not "
        "in the loop's default pool or a pool of any other size."
    )
    assert fetch.met == 3, (
        f"The first 3 fetches should run at the same time, but at most {fetch.peak} did "
        + (
            "(one after another: each fetch was awaited before the next one started). "
            "Hand every url to the pool first, then await them all together with "
            "asyncio.gather."
            if fetch.peak == 1
            else "(max_threads=3). Use a pool of exactly max_threads threads."
        )
    )
    assert not fetch.first_held_in_vain, (
        "The 4th fetch started only after the first 3 had all finished: the urls went in "
        "batches of max_threads. Hand all the urls to one pool at once, so that each thread "
        "takes the next url as soon as it is free."
    )


async def test_fetch_all_runs_forty_at_once_when_max_threads_is_forty(deadline) -> None:
    fetch = FakeFetch(meet=40, settle=False)
    urls = [f"u{i}" for i in range(40)]
    async with deadline(5, "fetch_all(fetch, 40 urls, max_threads=40)"):
        result = await call_fetch_all(fetch, urls, 40)
    assert result == [page(url) for url in urls], f"fetch_all returned {result!r}."
    assert fetch.met == 40, (
        f"With max_threads=40 and 40 urls, all 40 fetches should run at the same time, but at "
        f"most {fetch.peak} did. "
        + (
            "That is one after another: hand every url to the pool first, then await them "
            "all together."
            if fetch.peak == 1
            else "A smaller pool caps them, and so does the loop's default pool (the one "
            "asyncio.to_thread uses), which has only min(32, CPUs + 4) threads for the whole "
            "program: make a pool of your own with ThreadPoolExecutor(max_workers=max_threads)."
        )
    )


async def test_fetch_all_keeps_the_event_loop_free_while_fetching(deadline) -> None:
    fetch = FakeFetch(watch_loop=True)
    ticker = asyncio.create_task(fetch.tick())
    try:
        async with deadline(5, "fetch_all(fetch, 4 urls, max_threads=2)"):
            result = await call_fetch_all(fetch, ["a", "b", "c", "d"], 2)
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    assert result == [b"<a>", b"<b>", b"<c>", b"<d>"], f"fetch_all returned {result!r}."
    assert not fetch.loop_stuck, (
        "fetch ran in another thread, but the event loop was stuck meanwhile: a task that "
        "ticks every millisecond did not tick while fetch ran. Don't wait for the pool with "
        "a blocking call (pool.map(...), future.result(), concurrent.futures.wait(...)): "
        "await it, e.g. `await asyncio.gather(*(loop.run_in_executor(pool, fetch, url) "
        "...))`."
    )


async def test_fetch_all_leaves_no_thread_running(deadline) -> None:
    for call in ("first", "second"):
        fetch = FakeFetch()
        async with deadline(5, f"the {call} fetch_all(fetch, 6 urls, max_threads=3)"):
            result = await call_fetch_all(fetch, [f"u{i}" for i in range(6)], 3)
        left = fetch.threads_left()  # at once: a pool that was shut down has no threads
        assert not left, (
            f"After the {call} call of fetch_all returned, threads that ran fetch were still "
            f"alive: {', '.join(left)}. Shut your thread pool down before you return: "
            "`with ThreadPoolExecutor(...) as pool:` does it (it joins the threads) at the "
            "end of the block. A pool kept from one call to the next, or made and never "
            "shut down, leaves threads behind."
        )
        assert result == [page(f"u{i}") for i in range(6)], f"fetch_all returned {result!r}."


async def test_fetch_all_handles_duplicates_big_batches_and_no_urls(deadline) -> None:
    urls = [f"u{(i * 5) % 12}" for i in range(30)]  # 30 urls; each one 2 or 3 times
    given = list(urls)
    fetch = FakeFetch()
    async with deadline(5, "fetch_all(fetch, 30 urls, max_threads=4)"):
        result = await call_fetch_all(fetch, urls, 4)
    assert urls == given, "fetch_all changed the list of urls it was given; leave it as it is."
    calls, wanted = Counter(fetch.calls), Counter(urls)
    assert calls == wanted, (
        f"With 30 urls (with duplicates), fetch was never called for "
        f"{sorted((wanted - calls).elements())} and too often for "
        f"{sorted((calls - wanted).elements())}. Fetch every url once, duplicates included, "
        "and don't stop at a fixed number."
    )
    assert result == [page(url) for url in urls], (
        "fetch_all returned the right pages in the wrong places: result[i] must be the page "
        "of urls[i]."
    )
    assert fetch.peak <= 4, f"{fetch.peak} fetches ran at once with max_threads=4."
    fetch = FakeFetch()
    async with deadline(5, "fetch_all(fetch, ('x', 'y'), max_threads=1)"):
        result = await call_fetch_all(fetch, ("x", "y"), 1)
    assert result == [b"<x>", b"<y>"], (
        f"fetch_all(fetch, ('x', 'y'), max_threads=1) returned {result!r}; urls can be any "
        "sequence, a tuple too."
    )
    assert fetch.peak == 1, f"{fetch.peak} fetches ran at once with max_threads=1."
    fetch = FakeFetch()
    async with deadline(5, "fetch_all(fetch, [], max_threads=2)"):
        result = await call_fetch_all(fetch, [], 2)
    assert result == [] and isinstance(result, list), (
        f"fetch_all(fetch, [], max_threads=2) returned {result!r}; no urls: an empty list."
    )
    assert fetch.calls == [], f"With no urls, fetch was called for {fetch.calls!r}."


async def test_fetch_all_lets_a_failing_fetch_raise(deadline) -> None:
    fetch = FakeFetch(failing=frozenset({"bad"}))
    errors: list[FetchError] = []
    result = None
    try:
        async with deadline(5, "fetch_all(fetch, ['a', 'bad', 'c'], max_threads=3)"):
            result = await call_fetch_all(fetch, ["a", "bad", "c"], 3)
    except* FetchError as group:  # the error itself, or inside an ExceptionGroup
        errors.extend(group.exceptions)
    assert not fetch.ran_on_loop_thread, (
        "fetch ran on the event loop's own thread, so the whole loop waited for it. Hand it "
        "to a thread pool and await the result: `await loop.run_in_executor(pool, fetch, url)`."
    )
    assert errors, (
        f"fetch('bad') raised FetchError, but fetch_all returned {result!r}. Let the error "
        "reach the caller: don't catch it, and don't use return_exceptions=True."
    )
    left = fetch.threads_left()
    assert not left, (
        f"fetch_all raised, but threads that ran fetch were still alive: {', '.join(left)}. "
        "Shut the pool down on every way out: a `with` block does it, even on an error."
    )


# -- crunch_all ----------------------------------------------------------------------------


class CrunchError(Exception):
    """What a job raises when it is meant to fail."""


class LoopBlocked(AssertionError):
    """Raised in learner code that waits for a pool future with a blocking call."""


class HeldFuture(concurrent.futures.Future):
    """A pool future that the test finishes. Waiting for it on the loop's thread is a bug."""

    def __init__(self, loop_thread: int) -> None:
        super().__init__()
        self.loop_thread = loop_thread

    def result(self, timeout: float | None = None) -> Any:
        if not self.done() and threading.get_ident() == self.loop_thread:
            raise LoopBlocked(
                "crunch_all waited for a job with a blocking call (future.result(), or "
                "pool.map(...), which calls it). That freezes the event loop until the job is "
                "done. Await it instead: `await loop.run_in_executor(pool, work, item)` gives "
                "you an asyncio future, and asyncio.gather awaits many."
            )
        return super().result(timeout)


class FakePool(concurrent.futures.Executor):
    """A stand-in for a process pool: it keeps every job it is given until the test runs it.

    The test then finishes the jobs in the order it likes (`finish`). It records whether
    anyone shut it down.
    """

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...], HeldFuture]] = []
        self.shut_down = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> HeldFuture:
        if self.shut_down:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = HeldFuture(self.loop_thread)
        self.jobs.append((functools.partial(fn, **kwargs) if kwargs else fn, args, future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shut_down = True

    def finish(self, order: list[int]) -> None:
        """Run the jobs with these indexes (in the order they were handed over)."""
        for index in order:
            fn, args, future = self.jobs[index]
            if not future.set_running_or_notify_cancel():
                continue  # it was cancelled while it waited
            try:
                result = fn(*args)
            except Exception as exc:  # the job's error goes to whoever awaits its future
                future.set_exception(exc)
            else:
                future.set_result(result)

    def finish_waiting(self) -> None:
        """Run every job that is still waiting, the last one first."""
        self.finish([i for i in reversed(range(len(self.jobs))) if not self.jobs[i][2].done()])


def square(n: int) -> int:
    return n * n


def square_but_not_2(n: int) -> int:
    if n == 2:
        raise CrunchError("cannot crunch 2")
    return n * n


async def start_crunch(
    pool: FakePool, items: Any, work: Callable[[int], int] = square
) -> asyncio.Task[list[int]]:
    """Start crunch_all(pool, work, items) as a task, let it hand its jobs to the pool."""
    task = asyncio.create_task(crunch_all(pool, work, items))
    for _ in range(5):
        await asyncio.sleep(0)
    if not pool.jobs:
        outcome = ""
        if task.done():
            error = task.exception()
            if isinstance(error, NotImplementedError):
                raise error  # still a TODO
            outcome = f" and raised {error!r}" if error else f" and returned {task.result()!r}"
        else:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        pytest.fail(
            f"crunch_all handed no job to the pool it was given{outcome}. CPU-bound work "
            "belongs in that process pool: `loop.run_in_executor(pool, work, item)`. "
            "asyncio.to_thread, or calling work(item) yourself, runs it in this process, "
            "where the GIL lets only one thread at a time run Python code."
        )
    return task


@pytest.fixture
def process_pool(monkeypatch) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    # "spawn" starts fresh interpreters: safe in a process with threads, on every OS.
    # A spawned process imports what it runs by name, so it gets offload.py's folder too.
    monkeypatch.syspath_prepend(os.path.dirname(os.path.abspath(offload.__file__)))
    # It would also run the script that started pytest again (to find functions defined
    # there); the tests define none, so spare it that.
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


async def test_crunch_all_runs_the_work_in_other_processes(process_pool, deadline) -> None:
    # operator.call(f) calls f(); called with os.getpid, it tells which process ran it.
    # (Both are importable functions, so they can be pickled and sent to another process.)
    async with deadline(2.5, "crunch_all(process_pool, operator.call, [os.getpid] * 4)"):
        try:
            pids = await crunch_all(process_pool, operator.call, [os.getpid] * 4)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            if "pickle" not in str(exc).lower():
                raise
            pytest.fail(
                f"A job could not be sent to the process pool: {exc}. Everything that goes to "
                "another process is pickled, so send the function you were given and the item "
                "themselves (or a functools.partial of them), not a lambda or a nested function."
            )
    assert isinstance(pids, list) and len(pids) == 4, (
        f"crunch_all returned {pids!r}; expected a list of 4 results, one per item."
    )
    assert os.getpid() not in pids, (
        "The work ran in the test's own process, not in the process pool it was given. "
        "Send every job to that pool: `loop.run_in_executor(pool, work, item)`. In threads "
        "(asyncio.to_thread) CPU-bound Python runs one thread at a time because of the GIL; "
        "processes run in parallel."
    )
    async with deadline(2.5, "crunch_all(process_pool, math.factorial, (10, 3, 5))"):
        try:
            result = await crunch_all(process_pool, math.factorial, (10, 3, 5))
        except RuntimeError as exc:
            if "after shutdown" not in str(exc):
                raise
            pytest.fail(
                "The second crunch_all with the same pool failed: the first call shut the pool "
                "down. The pool belongs to the caller: don't close it or use it in `with`."
            )
    assert result == [3628800, 6, 120], (
        f"crunch_all(pool, math.factorial, (10, 3, 5)) returned {result!r}; expected "
        "[3628800, 6, 120], in the order of items."
    )


async def test_crunch_all_hands_every_item_to_the_pool_at_once(deadline) -> None:
    pool = FakePool()
    task = await start_crunch(pool, [1, 2, 3, 4, 5])
    assert len(pool.jobs) == 5, (
        f"Before any job had finished, crunch_all had handed {len(pool.jobs)} job(s) to the "
        "pool; it should hand over all 5 items at once, and let the pool run as many at a "
        "time as it can. "
        + (
            "One at a time means each job was awaited before the next was sent: make all "
            "the futures first, then await them together with asyncio.gather."
            if len(pool.jobs) == 1
            else ""
        )
    )
    pool.finish_waiting()  # the last item's job finishes first
    async with deadline(5, "crunch_all(pool, square, [1, 2, 3, 4, 5])"):
        result = await task
    assert result == [1, 4, 9, 16, 25], (
        f"crunch_all returned {result!r}; expected [1, 4, 9, 16, 25]. The results must line up "
        "with the items, whatever order the jobs finish in (here the last one first)."
    )


async def test_crunch_all_keeps_order_and_duplicates_and_leaves_the_pool_open(deadline) -> None:
    pool = FakePool()
    items = tuple((i * 3) % 7 for i in range(25))  # 25 items, every value 3 or 4 times
    task = await start_crunch(pool, items)
    assert len(pool.jobs) == 25, (
        f"For 25 items (with duplicates), crunch_all handed {len(pool.jobs)} job(s) to the pool. "
        "Send one job per item, duplicates included, and don't stop at a fixed number."
    )
    pool.finish_waiting()
    async with deadline(5, "crunch_all(pool, square, 25 items)"):
        result = await task
    assert result == [square(n) for n in items], (
        "crunch_all returned the results in the wrong places: result[i] must be "
        f"work(items[i]). Got {result!r}."
    )
    assert not pool.shut_down, (
        "crunch_all shut down the pool it was given. The pool belongs to the caller, who "
        "uses it again: don't close it, and don't use it in a `with` block."
    )
    task = await start_crunch(pool, [3, 1])
    pool.finish_waiting()
    async with deadline(5, "a second crunch_all(pool, square, [3, 1])"):
        assert await task == [9, 1], "A second call of crunch_all with [3, 1] should give [9, 1]."
    async with deadline(5, "crunch_all(pool, square, [])"):
        empty = await crunch_all(pool, square, [])
    assert empty == [] and isinstance(empty, list), (
        f"crunch_all(pool, square, []) returned {empty!r}; no items: an empty list."
    )


async def test_crunch_all_lets_a_failing_job_raise(deadline) -> None:
    pool = FakePool()
    task = await start_crunch(pool, [1, 2, 3], square_but_not_2)
    errors: list[CrunchError] = []
    result = None
    try:
        async with deadline(5, "crunch_all(pool, square_but_not_2, [1, 2, 3])"):
            while not task.done():  # the job for 2 raises CrunchError
                pool.finish_waiting()
                await asyncio.sleep(0)
            result = task.result()
    except* CrunchError as group:  # the error itself, or inside an ExceptionGroup
        errors.extend(group.exceptions)
    assert errors, (
        f"The job for item 2 raised CrunchError, but crunch_all returned {result!r}. Let the "
        "error reach the caller: don't catch it, and don't use return_exceptions=True."
    )


async def test_crunch_all_cancelled_cancels_the_jobs_still_waiting(deadline) -> None:
    pool = FakePool()
    task = await start_crunch(pool, [1, 2, 3, 4])
    pool.finish([0])  # the first job is done; three are still waiting in the pool
    await asyncio.sleep(0)
    task.cancel()
    async with deadline(5, "crunch_all after it was cancelled"):
        await asyncio.wait([task])
    if not task.cancelled():
        outcome = task.exception() or f"returned {task.result()!r}"
        pytest.fail(
            f"crunch_all was cancelled, but it {outcome}. A cancelled crunch_all must end "
            "cancelled: don't catch the CancelledError (or raise it again)."
        )
    waiting = sum(not future.done() for _, _, future in pool.jobs)
    assert not waiting, (
        f"crunch_all was cancelled, but {waiting} of its jobs were still waiting in the pool, "
        "where they would run for nothing. Await the pool's futures in a way that passes "
        "the cancel on: asyncio.gather of the futures from loop.run_in_executor cancels "
        "every job that has not started."
    )
    assert not pool.shut_down, "crunch_all shut down the caller's pool."
