"""Kata 06 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from timeouts import OrderService, download, fetch_with_retries

CLEANUP_TURNS = 3  # tidying up after a cancel takes a few turns of the event loop
HANG = 3600.0  # an answer that never comes in time

# Some times below are odd on purpose (0.3337, 1.2891): only code that waits for the work
# itself sees it end at exactly that moment; code that checks now and then (polling)
# notices a little later.


def drawing(drawn: Any, name: str) -> contextlib.AbstractContextManager[None]:
    """`drawn` is the `timeline` fixture (or None): the checker draws what ran when."""
    return drawn.span(name) if drawn else contextlib.nullcontext()


class FakeFetch:
    """fetch(url) for fetch_with_retries. Call k takes plans[k] seconds (forever if there
    is no plan for it), then returns b"<url> #k", or raises errors[k] if there is one."""

    def __init__(
        self, plans: list[float], errors: dict[int, Exception] | None = None, drawn: Any = None
    ) -> None:
        self.plans = plans
        self.drawn = drawn
        self.errors = errors or {}
        self.started_at: list[float] = []
        self.running_at_start: list[int] = []
        self.cancelled: list[int] = []
        self.cleaned_up: list[int] = []
        self.running = 0

    async def __call__(self, url: str) -> bytes:
        loop = asyncio.get_running_loop()
        k = len(self.started_at) + 1
        self.started_at.append(round(loop.time(), 6))
        self.running_at_start.append(self.running)
        self.running += 1
        try:
            with drawing(self.drawn, f"attempt {k}: fetch"):
                await asyncio.sleep(self.plans[k - 1] if k <= len(self.plans) else HANG)
        except asyncio.CancelledError:
            self.cancelled.append(k)
            for _ in range(CLEANUP_TURNS):
                await asyncio.sleep(0)
            self.cleaned_up.append(k)
            raise
        finally:
            self.running -= 1
        if k in self.errors:
            raise self.errors[k]
        return f"<{url}> #{k}".encode()


class FakeConnection:
    def __init__(self, pool: FakePool, number: int) -> None:
        self.pool = pool
        self.number = number

    def __repr__(self) -> str:
        return f"<connection {self.number}>"

    async def fetch(self, url: str) -> bytes:
        if self not in self.pool.lent:
            pytest.fail(f"download used {self!r} after giving it back to the pool.")
        try:
            with drawing(self.pool.drawn, "conn.fetch(url)"):
                await asyncio.sleep(self.pool.fetch_seconds)
        except asyncio.CancelledError:
            self.pool.fetch_cancelled += 1
            raise
        if self.pool.fetch_error is not None:
            raise self.pool.fetch_error
        return f"<{url}>".encode()


class FakePool:
    """A pool of connections. acquire() waits `acquire_seconds` for a free connection;
    release(conn) takes a few turns of the event loop to reset the connection."""

    def __init__(
        self,
        acquire_seconds: float,
        fetch_seconds: float,
        fetch_error: Exception | None = None,
        drawn: Any = None,
    ) -> None:
        self.acquire_seconds = acquire_seconds
        self.drawn = drawn
        self.fetch_seconds = fetch_seconds
        self.fetch_error = fetch_error
        self.lent: list[FakeConnection] = []
        self.released: list[FakeConnection] = []
        self.bad_releases: list[object] = []
        self.waiting = 0
        self.acquire_cancelled = 0
        self.fetch_cancelled = 0

    async def acquire(self) -> FakeConnection:
        self.waiting += 1
        try:
            with drawing(self.drawn, "pool.acquire()"):
                await asyncio.sleep(self.acquire_seconds)
        except asyncio.CancelledError:
            self.acquire_cancelled += 1
            raise
        finally:
            self.waiting -= 1
        conn = FakeConnection(self, len(self.lent) + len(self.released) + 1)
        self.lent.append(conn)
        return conn

    async def release(self, conn: object) -> None:
        if conn not in self.lent:
            self.bad_releases.append(conn)
            return
        with drawing(self.drawn, "pool.release(conn)"):
            for _ in range(CLEANUP_TURNS):
                await asyncio.sleep(0)
        self.lent.remove(conn)  # type: ignore[arg-type]
        self.released.append(conn)  # type: ignore[arg-type]

    def problems(self) -> list[str]:
        """What is wrong with the pool right now, in words."""
        found = []
        if self.lent:
            found.append(
                f"{self.lent[0]!r} was never given back (or its `await pool.release(conn)` had "
                "not finished)"
            )
        for conn in self.bad_releases:
            if isinstance(conn, FakeConnection):
                found.append(f"{conn!r} was given back twice")
            else:
                found.append(
                    f"pool.release({conn!r}) was called, but {conn!r} is not a connection from "
                    "this pool (no connection was acquired: only give back what you got)"
                )
        if self.waiting:
            found.append("an `await pool.acquire()` was still waiting")
        return found


class FakeSaver:
    """save(order) takes plans[order] seconds, then returns a receipt or raises
    errors[order]. Only the save itself holds on to what it is waiting for, so a save that
    nobody keeps a reference to can be garbage-collected halfway."""

    def __init__(
        self,
        plans: dict[str, float],
        errors: dict[str, Exception] | None = None,
        drawn: Any = None,
    ):
        self.plans = plans
        self.drawn = drawn
        self.errors = errors or {}
        self.started: list[str] = []
        self.saved: list[str] = []
        self.failed: list[str] = []
        self.cancelled: list[str] = []
        self.waiting_on: dict[str, weakref.ref[asyncio.Future[None]]] = {}

    async def save(self, order: str) -> str:
        loop = asyncio.get_running_loop()
        self.started.append(order)
        disk = loop.create_future()
        self.waiting_on[order] = weakref.ref(disk)
        loop.call_later(self.plans[order], _done_writing, weakref.ref(disk))
        try:
            with drawing(self.drawn, f"save({order!r})"):
                await disk
        except asyncio.CancelledError:
            self.cancelled.append(order)
            for _ in range(CLEANUP_TURNS):
                await asyncio.sleep(0)
            raise
        if order in self.errors:
            self.failed.append(order)
            raise self.errors[order]
        self.saved.append(order)
        return f"receipt for {order}"

    def check_not_collected(self, order: str) -> None:
        gc.collect()
        assert self.waiting_on[order]() is not None, (
            f"The save of {order!r} was destroyed by the garbage collector halfway through. "
            "asyncio.shield protects a task from cancellation, not from being forgotten: the "
            "event loop keeps only a weak reference to a task. Keep the save's task yourself "
            "(in a list on self) until drain() has awaited it."
        )


def _done_writing(ref: weakref.ref[asyncio.Future[None]]) -> None:
    disk = ref()
    if disk is not None and not disk.done():
        disk.set_result(None)


def describe_outcome(outcome: object) -> str:
    if outcome is None:
        return "raised it"
    if isinstance(outcome, BaseException):
        return f"raised {outcome!r}"
    return f"returned {outcome!r}"


def start_in_task(
    call: Coroutine[Any, Any, Any], look: Callable[[], list[str]]
) -> tuple[asyncio.Task[Any], list[str]]:
    """Run `call` in a task; `found` gets what `look()` sees the moment the call ends."""
    found: list[str] = []

    async def call_then_look() -> Any:
        try:
            return await call
        finally:
            found.extend(look())

    return asyncio.create_task(call_then_look()), found


async def cancel_at(task: asyncio.Task[Any], at: float, what: str, deadline) -> None:
    """Cancel `task` when the event-loop clock reads `at`, then wait until it has ended."""
    await asyncio.sleep(at - asyncio.get_running_loop().time())
    if task.done():
        error = None if task.cancelled() else task.exception()
        if error is None or isinstance(error, NotImplementedError):
            task.result()  # the stub's NotImplementedError, or CancelledError
            pytest.fail(f"{what} returned {task.result()!r} before its work was done.")
        raise AssertionError(
            f"{what} raised {error!r} before its caller cancelled it at {at} seconds; it "
            "should still have been busy then."
        ) from error
    task.cancel()
    async with deadline(60, f"{what}, after its caller cancelled it"):
        await asyncio.wait([task])


def check_ended_cancelled(task: asyncio.Task[Any], what: str) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        raise AssertionError(
            f"When its caller cancelled it, {what} raised {error!r} instead of letting the "
            "CancelledError go on."
        ) from error
    pytest.fail(
        f"The caller cancelled {what}, but it swallowed the CancelledError and returned "
        f"{task.result()!r}. If you catch CancelledError (or BaseException, or use a bare "
        "`except:`), raise it again, so that the caller's task ends cancelled."
    )


# -- fetch_with_retries: a timeout for each attempt ----------------------------------


async def test_fetch_with_retries_gives_each_attempt_its_own_timeout(
    looptime, deadline, timeline
) -> None:
    # Attempts 1 and 2 never answer; attempt 3 answers after 0.3337 seconds.
    fetch = FakeFetch([HANG, HANG, 0.3337], drawn=timeline)
    result: object = None
    try:
        async with deadline(60, "fetch_with_retries(fetch, 'a.example', ...)"):
            with timeline.span("fetch_with_retries()"):
                result = await fetch_with_retries(
                    fetch, "a.example", attempt_timeout=1.25, attempts=4
                )
    except TimeoutError:
        tries = len(fetch.started_at)
        pytest.fail(
            f"fetch_with_retries raised TimeoutError at {float(looptime)} seconds after "
            f"{tries} attempt(s); the third attempt would have answered at 2.8337. "
            + (
                "The timeout ended the first attempt and everything with it: put the timeout "
                "around each single attempt, inside the loop, not around the whole loop."
                if tries == 1
                else "Each attempt gets 1.25 seconds of its own, up to 4 attempts."
            )
        )
    assert result == b"<a.example> #3", (
        f"fetch_with_retries returned {result!r}; expected the answer of the third attempt, "
        "b'<a.example> #3'."
    )
    assert fetch.started_at == [0, 1.25, 2.5], (
        f"The attempts started at {fetch.started_at} seconds; expected [0, 1.25, 2.5]: each "
        "attempt gets 1.25 seconds, and the next one starts as soon as it runs out."
    )
    assert fetch.running_at_start == [0, 0, 0] and fetch.cleaned_up == [1, 2], (
        "An attempt started while the one before it was still running (or still tidying up "
        f"after its cancellation): attempts already running at each start: "
        f"{fetch.running_at_start}. Stop an attempt that runs out of time and wait until it "
        "has stopped; asyncio.timeout and asyncio.wait_for both do that for you."
    )
    assert looptime == 2.8337, (
        f"fetch_with_retries returned at {float(looptime)} seconds; the third attempt "
        "answered at 2.8337. Wait for the attempt itself (await it under a timeout), don't "
        "check on it now and then."
    )


async def test_fetch_with_retries_raises_timeout_error_when_every_attempt_times_out(
    looptime, deadline
) -> None:
    fetch = FakeFetch([])  # no attempt ever answers
    result: object = "nothing"
    timed_out = False
    try:
        async with deadline(60, "fetch_with_retries(fetch, 'b.example', ...)"):
            result = await fetch_with_retries(fetch, "b.example", attempt_timeout=0.75, attempts=4)
    except TimeoutError:
        timed_out = True
    running = fetch.running
    assert timed_out, (
        f"None of the 4 attempts answered, and fetch_with_retries returned {result!r}. It "
        "should raise TimeoutError: a default value looks like an answer, and the caller "
        "can't tell that nothing came back."
    )
    assert running == 0, (
        "fetch_with_retries raised TimeoutError while an attempt was still running. Stop "
        "the attempt that ran out of time (a timeout does) before giving up."
    )
    assert fetch.started_at == [0, 0.75, 1.5, 2.25], (
        f"The attempts started at {fetch.started_at} seconds; expected 4 attempts, at "
        "[0, 0.75, 1.5, 2.25]: each gets 0.75 seconds and the next starts at once."
    )
    assert looptime == 3, (
        f"fetch_with_retries raised TimeoutError at {float(looptime)} seconds; 4 attempts of "
        "0.75 seconds end at 3.0."
    )
    fetch = FakeFetch([0.25])
    result, timed_out = "nothing", False
    try:
        async with deadline(60, "fetch_with_retries(..., attempts=0)"):
            result = await fetch_with_retries(fetch, "b.example", attempt_timeout=1, attempts=0)
    except TimeoutError:
        timed_out = True
    assert timed_out and fetch.started_at == [] and looptime == 3, (
        f"With attempts=0, fetch_with_retries made {len(fetch.started_at)} attempt(s) and "
        f"{'raised TimeoutError' if timed_out else f'returned {result!r}'} after "
        f"{float(looptime) - 3} seconds. No attempt means no answer: raise TimeoutError at "
        "once, without calling fetch."
    )


async def test_fetch_with_retries_raises_other_errors_without_retrying(looptime, deadline) -> None:
    # The first attempt fails at once with an error that is not a timeout.
    fetch = FakeFetch([0.5], {1: ConnectionResetError("reset by peer")})
    outcome: object = "nothing"
    try:
        async with deadline(60, "fetch_with_retries(fetch, 'c.example', ...)"):
            outcome = await fetch_with_retries(fetch, "c.example", attempt_timeout=1.25, attempts=3)
    except ConnectionResetError:
        outcome = None
    except TimeoutError as error:
        outcome = error
    assert outcome is None and len(fetch.started_at) == 1 and looptime == 0.5, (
        f"The first attempt raised ConnectionResetError after 0.5 seconds; fetch_with_retries "
        f"should raise it at once, but it {describe_outcome(outcome)} after "
        f"{len(fetch.started_at)} attempt(s), at {float(looptime)} seconds. Only a timeout is "
        "retried: catch TimeoutError alone, and let other errors go at once."
    )
    # The first attempt times out; the second fails after 0.25 seconds.
    start = float(looptime)
    fetch = FakeFetch([HANG, 0.25], {2: ValueError("bad response")})
    outcome = "nothing"
    try:
        async with deadline(60, "fetch_with_retries(fetch, 'd.example', ...)"):
            outcome = await fetch_with_retries(fetch, "d.example", attempt_timeout=1.25, attempts=3)
    except ValueError:
        outcome = None
    except TimeoutError as error:
        outcome = error
    assert outcome is None and len(fetch.started_at) == 2 and looptime - start == 1.5, (
        "The first attempt timed out and the second raised ValueError('bad response') 0.25 "
        f"seconds later; fetch_with_retries should raise that at once (1.5 seconds in), but "
        f"it {describe_outcome(outcome)} after {len(fetch.started_at)} attempt(s), "
        f"{float(looptime) - start} seconds in."
    )


async def test_fetch_with_retries_cancelled_by_its_caller_stops_retrying(
    looptime, deadline
) -> None:
    fetch = FakeFetch([])  # no attempt ever answers
    task, running = start_in_task(
        fetch_with_retries(fetch, "e.example", attempt_timeout=1.25, attempts=5),
        lambda: [f"attempt {fetch.running}"] if fetch.running else [],
    )
    await cancel_at(task, 2.0, "fetch_with_retries", deadline)  # during the second attempt
    check_ended_cancelled(task, "fetch_with_retries")
    assert running == [], (
        "fetch_with_retries ended while the attempt it was running had not stopped yet. "
        "Let the CancelledError go through the attempt, so that it stops too."
    )
    assert looptime == 2.0, (
        f"fetch_with_retries ended at {float(looptime)} seconds; it was cancelled at 2.0."
    )
    await asyncio.sleep(10)  # time enough for three more attempts
    tries = len(fetch.started_at)
    assert tries <= 2, (
        f"fetch_with_retries was cancelled during attempt 2, yet {tries} attempts were made. "
        "A cancellation is not a timeout: catch TimeoutError only (never CancelledError) "
        "and don't start another attempt."
    )
    assert tries == 2, (
        f"By the time it was cancelled at 2.0 seconds, fetch_with_retries had made {tries} "
        "attempt(s); the first should have timed out at 1.25 and the second started at once."
    )


# -- download: one time limit for the whole thing; always give the connection back --------


async def test_download_returns_the_body_and_gives_the_connection_back(looptime, deadline) -> None:
    pool = FakePool(acquire_seconds=0.4375, fetch_seconds=1.2891)
    async with deadline(60, "download(pool, 'f.example', time_limit=2.5)"):
        body = await download(pool, "f.example", time_limit=2.5)
    problems = pool.problems()
    assert body == b"<f.example>", f"download returned {body!r}; expected b'<f.example>'."
    assert not problems, f"When download returned, {problems[0]}."
    assert len(pool.released) == 1, (
        f"download took {len(pool.released)} connections; it needs exactly one."
    )
    assert looptime == 1.7266, (
        f"download returned at {float(looptime)} seconds; the connection came after 0.4375 "
        "and the body 1.2891 later, at 1.7266. Wait for the work itself, not a fixed time."
    )


async def test_download_time_limit_includes_waiting_for_a_connection(
    looptime, deadline, timeline
) -> None:
    # A connection comes after 1.75 seconds; the fetch never answers; 2.25 in all.
    pool = FakePool(acquire_seconds=1.75, fetch_seconds=HANG, drawn=timeline)
    task, problems = start_in_task(download(pool, "g.example", time_limit=2.25), pool.problems)
    with timeline.span("download()"):
        await asyncio.wait([task], timeout=30)
    if not task.done():
        task.cancel()
        await asyncio.wait([task])
        pytest.fail(
            "download(..., time_limit=2.25) was still waiting for a fetch that never answers "
            "30 seconds in. The time limit must cover the fetch too: put it around "
            "everything, the wait for a connection and the fetch."
        )
    if task.cancelled() or not isinstance(task.exception(), TimeoutError):
        outcome = task.result()  # the error your code raised, if it raised one
        pytest.fail(
            f"download returned {outcome!r} at {float(looptime)} seconds, though the fetch "
            "never answered. When the time limit is up, raise TimeoutError: a default value "
            "looks like an answer."
        )
    assert looptime == 2.25, (
        f"download raised TimeoutError at {float(looptime)} seconds; the time limit was 2.25. "
        + (
            "That is 1.75 seconds waiting for a connection plus 2.25: the time limit must "
            "cover the wait for a connection too. Put it around everything."
            if looptime == 4
            else "The limit covers the whole download, from the start."
        )
    )
    assert not problems, (
        f"When download raised TimeoutError, {problems[0]}. Give the connection back in a "
        "`finally:` block, so it goes back on a timeout too."
    )
    # Now the pool is so busy that no connection comes within the time limit.
    pool = FakePool(acquire_seconds=3.5, fetch_seconds=0.5)
    start = float(looptime)
    task, problems = start_in_task(download(pool, "h.example", time_limit=2.25), pool.problems)
    async with deadline(60, "download(pool, 'h.example', time_limit=2.25)"):
        await asyncio.wait([task])
    if task.cancelled() or not isinstance(task.exception(), TimeoutError):
        outcome = task.result()  # the error your code raised, if it raised one
        pytest.fail(
            f"No connection came within the time limit, and download returned {outcome!r} "
            f"after {float(looptime) - start} seconds; it should raise TimeoutError after 2.25."
        )
    assert looptime - start == 2.25, (
        f"download raised TimeoutError after {float(looptime) - start} seconds, waiting for a "
        "connection; the time limit was 2.25."
    )
    assert not problems, f"When download raised TimeoutError, {problems[0]}."


async def test_download_gives_the_connection_back_when_the_fetch_fails(looptime, deadline) -> None:
    pool = FakePool(0.25, 0.5, fetch_error=ConnectionResetError("reset by peer"))
    task, problems = start_in_task(download(pool, "i.example", time_limit=2.5), pool.problems)
    async with deadline(60, "download(pool, 'i.example', time_limit=2.5)"):
        await asyncio.wait([task])
    error = None if task.cancelled() else task.exception()
    if not isinstance(error, ConnectionResetError):
        outcome = task.result()  # the error your code raised, if it raised one
        pytest.fail(
            "The fetch raised ConnectionResetError('reset by peer'), but download returned "
            f"{outcome!r}. Let the error reach the caller; give the connection back in "
            "`finally:`, not in `except:`."
        )
    assert not problems, (
        f"When download raised the fetch's error, {problems[0]}. Give the connection back in "
        "a `finally:` block, so it goes back when the fetch fails too."
    )
    assert looptime == 0.75, (
        f"download raised at {float(looptime)} seconds; the fetch failed at 0.75."
    )


async def test_download_cancelled_by_its_caller_gives_the_connection_back(
    looptime, deadline
) -> None:
    pool = FakePool(acquire_seconds=0.25, fetch_seconds=HANG)
    task, problems = start_in_task(download(pool, "j.example", time_limit=60), pool.problems)
    await cancel_at(task, 1.125, "download", deadline)  # while fetching
    check_ended_cancelled(task, "download")
    assert not problems, (
        f"When download ended cancelled, {problems[0]}. Give the connection back in a "
        "`finally:` block, so it goes back when the caller cancels too."
    )
    assert pool.fetch_cancelled == 1 and looptime == 1.125, (
        f"download was cancelled at 1.125 seconds, while fetching, but ended at "
        f"{float(looptime)}. Let the cancellation stop the fetch."
    )
    # Cancelled while still waiting for a connection: there is nothing to give back.
    pool = FakePool(acquire_seconds=2.0, fetch_seconds=0.5)
    task, problems = start_in_task(download(pool, "k.example", time_limit=60), pool.problems)
    await cancel_at(task, 1.625, "download", deadline)
    check_ended_cancelled(task, "download")
    assert not problems, (
        f"When download was cancelled while waiting for a connection, {problems[0]}."
    )


# -- OrderService: a save that goes on when the caller gives up ---------------------------


async def test_place_returns_the_receipt_or_raises_the_error_of_a_save_in_time(
    looptime, deadline
) -> None:
    saver = FakeSaver({"a": 0.6871, "b": 0.3125}, errors={"b": ValueError("card declined")})
    service = OrderService(saver.save)
    async with deadline(60, "place('a', time_limit=1.25)"):
        receipt = await service.place("a", time_limit=1.25)
    assert receipt == "receipt for a", (
        f"place('a') returned {receipt!r}; expected the receipt that save gave back."
    )
    assert looptime == 0.6871, (
        f"place('a') returned at {float(looptime)} seconds; the save was done at 0.6871. "
        "Wait for the save itself, not a fixed time."
    )
    errors: list[BaseException] = []
    result: object = "nothing"
    try:
        async with deadline(60, "place('b', time_limit=1.25)"):
            result = await service.place("b", time_limit=1.25)
    except* ValueError as group:  # alone, or inside an ExceptionGroup
        errors.extend(group.exceptions)
    assert errors, (
        "The save of 'b' raised ValueError('card declined') in time, but place returned "
        f"{result!r}. Raise the save's error to the caller of place."
    )
    assert looptime == 0.9996, (
        f"place('b') raised at {float(looptime)} seconds; the save failed at 0.9996."
    )
    try:
        async with deadline(60, "drain() with nothing left to wait for"):
            await service.drain()  # the error of 'b' reached its caller: nothing to do
    except* ValueError:
        pytest.fail(
            "drain() raised ValueError('card declined') again, but that error already "
            "reached the caller of place('b'). drain() is only for the saves that place gave "
            "up waiting for."
        )
    assert looptime == 0.9996 and saver.cancelled == [], (
        "drain() waited or cancelled something, but every save had already finished and "
        "reached its caller."
    )


async def test_place_raises_timeout_error_but_the_save_goes_on(
    looptime, deadline, timeline
) -> None:
    saver = FakeSaver({"slow": 2.75}, drawn=timeline)
    service = OrderService(saver.save)
    result: object = "nothing"
    timed_out = False
    try:
        async with deadline(60, "place('slow', time_limit=1.25)"):
            with timeline.span("place('slow')"):
                result = await service.place("slow", time_limit=1.25)
    except TimeoutError:
        timed_out = True
    if not timed_out:
        pytest.fail(
            f"The save takes 2.75 seconds, but place(..., time_limit=1.25) returned {result!r} "
            f"at {float(looptime)} seconds. When time is up, raise TimeoutError at once; the "
            "save goes on in the background."
        )
    assert looptime == 1.25, (
        f"place raised TimeoutError at {float(looptime)} seconds; the time limit was 1.25. "
        "Stop waiting when time is up, and don't wait for the save afterwards."
    )
    assert saver.cancelled == [], (
        "When place gave up waiting, the save was cancelled. A save must run to its end: "
        "wait for it through `asyncio.shield(task)`, so that the timeout cancels only the "
        "waiting, not the save."
    )
    saver.check_not_collected("slow")
    await asyncio.sleep(0.5)  # 1.75: the save is still going
    assert saver.cancelled == [] and saver.started == ["slow"], (
        f"After place gave up, the save was cancelled or started again: started "
        f"{saver.started}, cancelled {saver.cancelled}."
    )
    async with deadline(60, "drain()"):
        with timeline.span("drain()"):
            await service.drain()
    assert saver.saved == ["slow"], (
        "drain() returned before the save that place gave up on had finished. Keep that "
        "task, and await it in drain()."
    )
    assert looptime == 2.75, (
        f"drain() returned at {float(looptime)} seconds; the save finished at 2.75."
    )
    async with deadline(60, "a second drain()"):
        await service.drain()
    assert looptime == 2.75, (
        f"A second drain() waited until {float(looptime)} seconds; there was nothing left "
        "to wait for."
    )


async def test_place_cancelled_by_its_caller_lets_the_save_finish(looptime, deadline) -> None:
    saver = FakeSaver({"big": 2.75})
    service = OrderService(saver.save)
    task, _ = start_in_task(service.place("big", time_limit=60), list)
    await cancel_at(task, 0.5, "place('big', time_limit=60)", deadline)
    check_ended_cancelled(task, "place")
    assert looptime == 0.5, f"place ended at {float(looptime)} seconds; it was cancelled at 0.5."
    assert saver.cancelled == [], (
        "When the caller cancelled place, the save was cancelled too. A save must run to its "
        "end: wait for it through `asyncio.shield(task)`, so that only the waiting is cancelled."
    )
    saver.check_not_collected("big")
    async with deadline(60, "drain()"):
        await service.drain()
    assert saver.saved == ["big"] and looptime == 2.75, (
        f"drain() returned at {float(looptime)} seconds, with the save of 'big' "
        f"{'finished' if saver.saved else 'not finished'}; the save finishes at 2.75, and "
        "drain() should wait for it."
    )


async def test_drain_raises_the_error_of_a_save_that_failed_after_its_caller_gave_up(
    looptime, deadline
) -> None:
    saver = FakeSaver({"x": 1.5, "y": 2.25}, errors={"x": LookupError("no such customer")})
    service = OrderService(saver.save)
    for order in ("x", "y"):  # x fails at 1.5 seconds; y finishes at 2.5
        start = float(looptime)
        outcome: object = "nothing"
        try:
            async with deadline(60, f"place({order!r}, time_limit=0.25)"):
                outcome = await service.place(order, time_limit=0.25)
        except TimeoutError:
            outcome = None
        except LookupError as error:
            outcome = error
        assert outcome is None and looptime - start == 0.25, (
            f"place({order!r}, time_limit=0.25) should raise TimeoutError after 0.25 seconds, "
            f"but it {describe_outcome(outcome)} after {float(looptime) - start} seconds."
        )
    await asyncio.sleep(1.5)  # 2.0 seconds: x has failed, nobody has seen its error yet
    errors: list[BaseException] = []
    try:
        async with deadline(60, "drain()"):
            await service.drain()
    except* LookupError as group:  # alone, or inside an ExceptionGroup
        errors.extend(group.exceptions)
    assert errors, (
        "The save of 'x' failed with LookupError('no such customer') after place had given "
        "up on it, but drain() did not raise it, so nobody ever saw that error. Keep every "
        "save that place gave up on, even once it is done, until drain() has collected it."
    )
    assert saver.saved == ["y"] and looptime == 2.5, (
        f"drain() raised at {float(looptime)} seconds, before the save of 'y' finished at "
        "2.5. Wait for all the saves first (asyncio.gather(..., return_exceptions=True)), "
        "then raise."
    )
    try:
        async with deadline(60, "a second drain()"):
            await service.drain()  # x's error was raised once: it is not raised again
    except* LookupError:
        pytest.fail(
            "A second drain() raised the error of 'x' again. A save is drained once: forget "
            "the saves that drain() has waited for."
        )
