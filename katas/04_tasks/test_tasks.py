"""Kata 04 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import gc
import inspect
import weakref

import pytest
from tasks import Downloader


class DownloadError(Exception):
    """What the fake fetch raises for a url that is meant to fail."""


class FakeFetch:
    """A fake download: each url takes its own number of (virtual) seconds.

    It writes down which downloads started, finished or were cancelled,
    and how many ran at the same time.
    """

    def __init__(self, delays: dict[str, float], failing: frozenset[str] = frozenset()) -> None:
        self.delays = delays
        self.failing = failing
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, url: str) -> bytes:
        self.started.append(url)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delays[url])
        except asyncio.CancelledError:
            self.cancelled.append(url)
            raise
        finally:
            self.in_flight -= 1
        if url in self.failing:
            raise DownloadError(url)
        self.finished.append(url)
        return f"<{url}>".encode()


async def test_start_returns_a_task_at_once_and_it_runs_in_the_background(
    looptime, deadline
) -> None:
    fetch = FakeFetch({"a": 5})
    downloader = Downloader(fetch)
    task = downloader.start("a")
    if inspect.iscoroutine(task):
        task.close()
        pytest.fail(
            "start() returned a coroutine object, which does nothing until someone awaits it. "
            "start is a plain `def`: wrap the coroutine in `asyncio.create_task(...)` and "
            "return the task."
        )
    assert isinstance(task, asyncio.Task), (
        f"start() returned {task!r}; it should return the asyncio.Task that "
        "`asyncio.create_task(...)` gives you."
    )
    assert looptime == 0 and not task.done(), (
        "start() waited for the download to finish. It should only schedule it and return "
        "the task at once; the download runs in the background."
    )
    await asyncio.sleep(0)  # one turn of the event loop
    assert fetch.started == ["a"], (
        "After one turn of the event loop the download still had not started. start() "
        "should schedule fetch(url) with `asyncio.create_task(...)` so it runs in the background."
    )
    async with deadline(60, "awaiting the task that start('a') returned"):
        result = await task
    assert result == b"<a>", f"The task gave {result!r}; expected fetch's result b'<a>'."
    assert looptime == 5, (
        f"The 5-second download took {float(looptime)} seconds; awaiting its task should take "
        "exactly as long as the download."
    )


async def test_started_downloads_run_concurrently(looptime, deadline) -> None:
    fetch = FakeFetch({"a": 1, "b": 2, "c": 3})
    downloader = Downloader(fetch)
    for url in ("a", "b", "c"):
        downloader.start(url)
    async with deadline(60, "wait_all()"):
        results = await downloader.wait_all()
    assert results == [b"<a>", b"<b>", b"<c>"], (
        f"wait_all() returned {results!r}; expected the three results [b'<a>', b'<b>', b'<c>']."
    )
    assert fetch.peak == 3, (
        f"At most {fetch.peak} download(s) ran at the same time; all three should. Every "
        "start() should create a task right away, so they all run side by side."
    )
    assert looptime == 3, (
        f"Downloads of 1, 2 and 3 seconds took {float(looptime)} seconds in total. Running "
        "side by side, they should take as long as the slowest one: 3 seconds."
    )


async def test_running_counts_unfinished_downloads(deadline) -> None:
    fetch = FakeFetch({"a": 1, "b": 3})
    downloader = Downloader(fetch)
    assert downloader.running == 0, (
        f"A new Downloader says {downloader.running} downloads are running; expected 0."
    )
    downloader.start("a")
    downloader.start("b")
    assert downloader.running == 2, (
        f"Two downloads were started and neither has finished, but running is "
        f"{downloader.running}. Count the tasks that are not done yet (`task.done()`)."
    )
    await asyncio.sleep(2)  # "a" (1 s) has finished, "b" (3 s) has not
    assert downloader.running == 1, (
        f"One of the two downloads has finished, so running should be 1, not "
        f"{downloader.running}. A finished task no longer counts."
    )
    async with deadline(60, "wait_all()"):
        await downloader.wait_all()
    await asyncio.sleep(0)  # let done-callbacks (`add_done_callback`) run
    assert downloader.running == 0, (
        f"After wait_all() every download has finished, but running is {downloader.running}."
    )


async def test_wait_all_returns_results_in_start_order(looptime, deadline) -> None:
    fetch = FakeFetch({"slow": 3, "fast": 1, "middle": 2})
    downloader = Downloader(fetch)
    for url in ("slow", "fast", "middle"):
        downloader.start(url)
    async with deadline(60, "wait_all()"):
        results = await downloader.wait_all()
    assert results == [b"<slow>", b"<fast>", b"<middle>"], (
        f"wait_all() returned {results!r}. Results must come in the order the downloads were "
        "started (slow, fast, middle), not the order they finished. `asyncio.gather(*tasks)` "
        "keeps that order for you."
    )
    assert looptime == 3, (
        f"wait_all() took {float(looptime)} seconds; the slowest download takes 3."
    )


async def test_wait_all_includes_downloads_that_already_finished(looptime, deadline) -> None:
    fetch = FakeFetch({"a": 1, "b": 3})
    downloader = Downloader(fetch)
    downloader.start("a")
    downloader.start("b")
    await asyncio.sleep(2)  # "a" has finished before anyone asks for the results
    async with deadline(60, "wait_all()"):
        results = await downloader.wait_all()
    assert results == [b"<a>", b"<b>"], (
        f"wait_all() returned {results!r}; expected [b'<a>', b'<b>']. A download that finished "
        "before wait_all() was called still counts: keep every task you start until its "
        "result has been collected."
    )
    assert looptime == 3, (
        f"wait_all() finished at {float(looptime)} seconds; the downloads were done at 3. "
        "Did a download start again, or only when wait_all() was called?"
    )


async def test_wait_all_raises_the_error_of_a_failed_download(deadline) -> None:
    fetch = FakeFetch({"a": 1, "broken": 3, "c": 2}, failing=frozenset({"broken"}))
    downloader = Downloader(fetch)
    for url in ("a", "broken", "c"):
        downloader.start(url)
    errors: list[DownloadError] = []
    try:
        async with deadline(60, "wait_all()"):
            results = await downloader.wait_all()
    except* DownloadError as group:  # the error itself, or inside an ExceptionGroup
        errors = [e for e in group.exceptions if isinstance(e, DownloadError)]
    if not errors:
        pytest.fail(
            f"The download of 'broken' failed, but wait_all() returned {results!r} instead of "
            "raising its error. Don't hide failures: `asyncio.gather(*tasks)` re-raises the "
            "first error; `return_exceptions=True` would swallow it."
        )
    assert [str(e) for e in errors] == ["broken"], (
        f"wait_all() raised {errors!r}; expected the error of the 'broken' download."
    )


async def test_cancel_all_waits_until_tasks_are_cancelled(looptime, deadline) -> None:
    fetch = FakeFetch({"quick": 1, "slow": 5, "slower": 9})
    downloader = Downloader(fetch)
    quick, slow, slower = (downloader.start(url) for url in ("quick", "slow", "slower"))
    await asyncio.sleep(2)  # "quick" has finished; "slow" and "slower" are still downloading
    try:
        async with deadline(60, "cancel_all()"):
            count = await downloader.cancel_all()
    except asyncio.CancelledError:
        pytest.fail(
            "cancel_all() raised CancelledError at its caller. Awaiting a cancelled task raises "
            "CancelledError; wait for the cancelled tasks with "
            "`asyncio.gather(*tasks, return_exceptions=True)` so it stays inside cancel_all()."
        )
    assert slow.done() and slower.done(), (
        "cancel_all() returned while the cancelled downloads were still running. "
        "`task.cancel()` only asks a task to stop; the task stops the next time it runs. "
        "Await the cancelled tasks (e.g. `asyncio.gather(*tasks, return_exceptions=True)`) "
        "so they have really finished before cancel_all() returns."
    )
    assert sorted(fetch.cancelled) == ["slow", "slower"], (
        f"The downloads that saw CancelledError were {fetch.cancelled!r}; expected "
        "'slow' and 'slower', the two still running. Call `task.cancel()` on each."
    )
    assert slow.cancelled() and slower.cancelled(), (
        "After cancel_all() the unfinished tasks should be cancelled (`task.cancelled()`)."
    )
    assert not quick.cancelled() and quick.result() == b"<quick>", (
        "cancel_all() should leave a download that already finished alone."
    )
    assert count == 2, (
        f"cancel_all() returned {count!r}; it cancelled 2 downloads ('quick' had already "
        "finished), so it should return 2."
    )
    await asyncio.sleep(0)  # let done-callbacks (`add_done_callback`) run
    assert downloader.running == 0, (
        f"After cancel_all() nothing should be running, but running is {downloader.running}."
    )
    assert looptime == 2, (
        f"cancel_all() returned at {float(looptime)} seconds; it was called at 2. Cancelling "
        "should stop the downloads at once, not wait for them to finish on their own."
    )


async def test_cancel_all_with_nothing_running_returns_zero(deadline) -> None:
    fetch = FakeFetch({"a": 1})
    downloader = Downloader(fetch)
    task = downloader.start("a")
    async with deadline(60, "wait_all()"):
        await downloader.wait_all()
    await asyncio.sleep(0)  # let done-callbacks (`add_done_callback`) run
    async with deadline(60, "cancel_all() with nothing running"):
        count = await downloader.cancel_all()
    assert count == 0, (
        f"Every download had finished, so cancel_all() had nothing to cancel, but it "
        f"returned {count!r}. Only count the tasks that were not done yet."
    )
    assert task.result() == b"<a>", "cancel_all() should leave a finished download alone."


async def test_a_started_download_survives_garbage_collection(deadline) -> None:
    loop = asyncio.get_running_loop()
    gates: list[weakref.ref[asyncio.Future[None]]] = []

    async def fetch(url: str) -> bytes:
        gate = loop.create_future()  # only this download holds on to its gate
        gates.append(weakref.ref(gate))
        await gate
        return url.encode()

    downloader = Downloader(fetch)
    downloader.start("a")  # the test drops the task on purpose: the downloader must keep it
    await asyncio.sleep(0)
    gc.collect()
    assert gates, "The download never started; start() should schedule it with create_task."
    gate = gates[0]()
    assert gate is not None, (
        "The garbage collector destroyed a download while it was still running. The event "
        "loop keeps only a weak reference to a task: keep a normal reference to every task "
        "you start (e.g. in a list on self) until it is done."
    )
    gate.set_result(None)
    async with deadline(60, "wait_all()"):
        results = await downloader.wait_all()
    assert results == [b"a"], f"wait_all() returned {results!r}; expected [b'a']."
