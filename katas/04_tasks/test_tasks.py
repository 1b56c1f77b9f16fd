"""Kata 04 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import weakref
from typing import Any

import pytest
from tasks import Downloader


class DownloadError(Exception):
    """What the fake fetch raises for a url that is meant to fail."""


class FakeFetch:
    """A fake download: each url takes its own number of (virtual) seconds.

    It writes down which downloads started, finished or were cancelled,
    and how many ran at the same time. A cancelled download takes a few turns of the
    event loop to clean up (`cleanup_turns`, 3 unless given), and maybe some seconds too
    (`cleanup_seconds`), like a real connection being closed; it counts as cancelled once
    that is done. With `drawn` (the `timeline` fixture) the checker draws what ran when.
    """

    def __init__(
        self,
        delays: dict[str, float],
        failing: frozenset[str] = frozenset(),
        cleanup_turns: dict[str, int] | None = None,
        cleanup_seconds: dict[str, float] | None = None,
        drawn: Any = None,
    ) -> None:
        self.delays = delays
        self.failing = failing
        self.cleanup_turns = cleanup_turns or {}
        self.cleanup_seconds = cleanup_seconds or {}
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.in_flight = 0
        self.peak = 0
        self.drawn = drawn

    def span(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self.drawn.span(name) if self.drawn else contextlib.nullcontext()

    async def __call__(self, url: str) -> bytes:
        self.started.append(url)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            with self.span(f"fetch({url!r})"):
                await asyncio.sleep(self.delays[url])
        except asyncio.CancelledError:
            with self.span(f"{url!r} cleans up"):
                for _ in range(self.cleanup_turns.get(url, 3)):  # closing the connection
                    await asyncio.sleep(0)
                if url in self.cleanup_seconds:
                    await asyncio.sleep(self.cleanup_seconds[url])
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


async def test_started_downloads_run_concurrently(looptime, deadline, timeline) -> None:
    fetch = FakeFetch({"a": 1, "b": 2, "c": 3}, drawn=timeline)
    downloader = Downloader(fetch)
    for url in ("a", "b", "c"):
        downloader.start(url)
    async with deadline(60, "wait_all()"):
        with timeline.span("wait_all()"):
            results = await downloader.wait_all()
    assert results == [b"<a>", b"<b>", b"<c>"], (
        f"wait_all() returned {results!r}; expected the three results [b'<a>', b'<b>', b'<c>']."
    )
    assert len(fetch.started) == 3, (
        f"Three downloads were started, but fetch was called {len(fetch.started)} times: "
        f"{fetch.started}. Each url should be downloaded once, by the task start() created; "
        "wait_all should await those tasks, not call fetch again."
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
    assert downloader.running == 0, (
        f"wait_all() has returned, so every download has finished, but running is "
        f"{downloader.running}. Count what is not done right now (`task.done()`), not a "
        "record that done-callbacks update a turn later."
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


async def test_wait_all_includes_downloads_that_already_finished(
    looptime, deadline, timeline
) -> None:
    fetch = FakeFetch({"a": 1, "b": 3}, drawn=timeline)
    downloader = Downloader(fetch)
    downloader.start("a")
    downloader.start("b")
    with timeline.span("test: sleep(2)"):
        await asyncio.sleep(2)  # "a" has finished before anyone asks for the results
    async with deadline(60, "wait_all()"):
        with timeline.span("wait_all()"):
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
    # "broken" fails after 3 seconds; "a" is done by then, "c" still has 2 seconds to go.
    fetch = FakeFetch({"a": 1, "broken": 3, "c": 5}, failing=frozenset({"broken"}))
    downloader = Downloader(fetch)
    *_, c = (downloader.start(url) for url in ("a", "broken", "c"))
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
    async with deadline(60, "the download of 'c', after wait_all() raised"):
        await asyncio.wait([c])
    assert not c.cancelled() and c.result() == b"<c>", (
        "When 'broken' failed, wait_all() also cancelled 'c', a download that was still "
        "going. wait_all only collects results: one failed download must not stop the "
        "others (they belong to whoever started them). Await the tasks with "
        "`asyncio.gather(*tasks)`, which leaves them running, not in a TaskGroup."
    )


async def test_cancel_all_waits_until_tasks_are_cancelled(looptime, deadline, timeline) -> None:
    # Once cancelled, "slow" takes 1 turn of the loop to clean up; "slower" takes 6 turns
    # and then 1.5 seconds more.
    fetch = FakeFetch(
        {"quick": 1, "slow": 5, "slower": 9},
        cleanup_turns={"slow": 1, "slower": 6},
        cleanup_seconds={"slower": 1.5},
        drawn=timeline,
    )
    downloader = Downloader(fetch)
    quick, slow, slower = (downloader.start(url) for url in ("quick", "slow", "slower"))
    with timeline.span("test: sleep(2)"):
        await asyncio.sleep(2)  # "quick" has finished; "slow" and "slower" are still downloading
    try:
        async with deadline(60, "cancel_all()"):
            with timeline.span("cancel_all()"):
                count = await downloader.cancel_all()
    except asyncio.CancelledError:
        pytest.fail(
            "cancel_all() raised CancelledError at its caller. Awaiting a cancelled task raises "
            "CancelledError; wait for the cancelled tasks with "
            "`asyncio.gather(*tasks, return_exceptions=True)` so it stays inside cancel_all()."
        )
    assert slow.done() and slower.done(), (
        "cancel_all() returned while the cancelled downloads were still running "
        f"({'slow and slower' if not slow.done() else 'slower'} still cleaning up). "
        "`task.cancel()` only asks a task to stop; the task gets CancelledError the next time "
        "it runs and may need more turns of the loop, or seconds, to clean up. Await every "
        "cancelled task until it is done (e.g. `asyncio.gather(*tasks, return_exceptions=True)`"
        "), rather than waiting a turn or a fixed time, or stopping at the first "
        "CancelledError."
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
    assert downloader.running == 0, (
        f"cancel_all() has returned and every download has stopped, but running is "
        f"{downloader.running}. running should count the tasks that are not done "
        "(`task.done()`) right now: not every task ever started, and not a set that "
        "done-callbacks empty only a turn later."
    )
    assert looptime == 3.5, (
        f"cancel_all() returned at {float(looptime)} seconds. It was called at 2, and 'slower' "
        "needs 1.5 seconds to clean up after it is cancelled, so it should return at 3.5: as "
        "soon as the cancelled downloads have stopped, without waiting for them to finish on "
        "their own."
    )


async def test_cancel_all_twice_cancels_only_once(deadline) -> None:
    fetch = FakeFetch({"a": 5, "b": 9})
    downloader = Downloader(fetch)
    downloads = [downloader.start("a"), downloader.start("b")]
    await asyncio.sleep(1)
    async with deadline(60, "the first cancel_all()"):
        first = await downloader.cancel_all()
    assert first == 2, f"The first cancel_all() returned {first!r}; it cancelled 2 downloads."
    assert all(task.done() for task in downloads), (
        "cancel_all() returned while the cancelled downloads were still cleaning up. Await "
        "the cancelled tasks until they are done before returning."
    )
    assert downloader.running == 0, (
        f"cancel_all() has returned and every download has stopped, but running is "
        f"{downloader.running}. running should count the tasks that are not done "
        "(`task.done()`) right now: not every task ever started, and not a set that "
        "done-callbacks empty only a turn later."
    )
    async with deadline(60, "the second cancel_all()"):
        second = await downloader.cancel_all()
    assert second == 0, (
        f"cancel_all() was called a second time, with nothing left running, and returned "
        f"{second!r}. Those downloads were already cancelled by the first call; count only "
        "the tasks this call found unfinished and cancelled."
    )
    assert sorted(fetch.cancelled) == ["a", "b"], (
        f"The downloads that saw CancelledError were {fetch.cancelled!r}; expected 'a' and "
        "'b', once each."
    )


async def test_cancelling_the_caller_of_cancel_all_cancels_it(looptime, deadline) -> None:
    # Once cancelled, each download takes 5 turns of the loop to clean up.
    fetch = FakeFetch({"a": 5, "b": 9}, cleanup_turns={"a": 5, "b": 5})
    downloader = Downloader(fetch)
    downloads = [downloader.start("a"), downloader.start("b")]
    await asyncio.sleep(1)
    caller = asyncio.create_task(downloader.cancel_all())
    try:
        for _ in range(2):  # cancel_all is now waiting for the downloads to clean up
            await asyncio.sleep(0)
        if caller.done():
            result = await caller  # raises cancel_all's own error, if it had one
            pytest.fail(
                f"cancel_all() returned {result!r} while the downloads it cancelled were still "
                "cleaning up. Await the cancelled tasks until they are done before returning."
            )
        caller.cancel()  # ... and whoever called it is cancelled in turn, e.g. at shutdown
        async with deadline(60, "cancel_all() after its caller was cancelled"):
            await asyncio.wait([caller])
            await asyncio.wait(downloads)
    except asyncio.CancelledError:
        pytest.fail(
            "cancel_all() cancelled the test's own task, which is not one of its downloads. "
            "Cancel only the tasks your Downloader started: other code shares the loop."
        )
    if not caller.cancelled():
        result = await caller  # raises cancel_all's own error, if it had one
        pytest.fail(
            "The task running cancel_all() was itself cancelled while it waited for the "
            f"downloads to stop, but cancel_all() swallowed that and returned {result!r}. "
            "Catching CancelledError around `await task` also catches the one meant for "
            "cancel_all. Let it through: `asyncio.gather(*tasks, return_exceptions=True)` "
            "keeps the downloads' CancelledError but still raises the caller's own."
        )
    assert all(task.cancelled() for task in downloads), (
        "cancel_all() should still have cancelled both downloads."
    )
    assert looptime == 1, (
        f"Everything was cancelled at 1 second, but it only ended at {float(looptime)}."
    )


async def test_cancel_all_with_nothing_running_returns_zero(deadline) -> None:
    fetch = FakeFetch({"a": 1})
    downloader = Downloader(fetch)
    task = downloader.start("a")
    async with deadline(60, "wait_all()"):
        await downloader.wait_all()
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


async def test_wait_all_with_nothing_started_returns_an_empty_list(looptime, deadline) -> None:
    downloader = Downloader(FakeFetch({}))
    async with deadline(60, "wait_all() before any start()"):
        results = await downloader.wait_all()
    assert results == [], (
        f"wait_all() before anything was started returned {results!r}; expected [], at once."
    )
    assert looptime == 0, f"wait_all() with nothing to wait for took {float(looptime)} seconds."


async def test_the_same_url_can_be_downloaded_twice(looptime, deadline) -> None:
    fetch = FakeFetch({"a": 1.5, "b": 0.25})
    downloader = Downloader(fetch)
    first = downloader.start("a")
    downloader.start("b")
    second = downloader.start("a")
    assert first is not second, "start('a') twice should start two downloads, two tasks."
    assert downloader.running == 3, (
        f"start('a'), start('b') and start('a') again: 3 downloads are running, but running "
        f"is {downloader.running}. Every start() is a download of its own, even for the same "
        "url: keep every task, not one per url."
    )
    async with deadline(60, "wait_all()"):
        results = await downloader.wait_all()
    assert results == [b"<a>", b"<b>", b"<a>"], (
        f"wait_all() returned {results!r}; expected [b'<a>', b'<b>', b'<a>']: one result "
        "per start(), in start order, the same url included twice."
    )
    assert looptime == 1.5, (
        f"Downloads of 1.5, 0.25 and 1.5 seconds took {float(looptime)} seconds together; "
        "side by side they take exactly 1.5. Wait for the tasks themselves, not in steps."
    )


async def test_many_downloads_run_at_once(looptime, deadline) -> None:
    urls = [f"file{i}" for i in range(50)]
    delays = {url: 0.25 * (1 + i * 7 % 13) for i, url in enumerate(urls)}
    slowest = max(delays.values())
    fetch = FakeFetch(delays)
    downloader = Downloader(fetch)
    for url in urls:
        downloader.start(url)
    assert downloader.running == 50, (
        f"50 downloads were started, but running is {downloader.running}."
    )
    async with deadline(60, "wait_all() for 50 downloads"):
        results = await downloader.wait_all()
    assert results == [f"<{url}>".encode() for url in urls], (
        "With 50 downloads, wait_all() did not return their 50 results in start order."
    )
    assert len(fetch.started) == 50, (
        f"50 downloads were started, but fetch was called {len(fetch.started)} times. Each "
        "url should be downloaded once, by the task start() created."
    )
    assert fetch.peak == 50, (
        f"Only {fetch.peak} of the 50 downloads ran at the same time; all 50 should. Don't "
        "cap how many run at once: every start() starts its download right away."
    )
    assert looptime == slowest, (
        f"50 downloads, the slowest taking {slowest} seconds, took {float(looptime)} seconds "
        f"in all. Side by side they take exactly {slowest}: await the tasks, not in steps."
    )


async def test_other_tasks_on_the_loop_are_not_the_downloaders(looptime, deadline) -> None:
    # Someone else's task shares the event loop; it has nothing to do with the downloader.
    bystander = asyncio.create_task(asyncio.sleep(30), name="someone else's task")
    try:
        fetch = FakeFetch({"a": 1, "b": 5})
        downloader = Downloader(fetch)
        downloader.start("a")
        downloader.start("b")
        await asyncio.sleep(0)
        assert downloader.running == 2, (
            f"Two downloads are running, but running is {downloader.running}. Another, "
            "unrelated task is running on the event loop too; count your own tasks only, not "
            "every task on the loop (asyncio.all_tasks())."
        )
        await asyncio.sleep(2)  # "a" has finished
        async with deadline(60, "cancel_all()"):
            count = await downloader.cancel_all()
        assert not bystander.cancelled(), (
            "cancel_all() cancelled a task on the event loop that was not one of its "
            "downloads. Cancel only the tasks your Downloader started."
        )
        assert count == 1, f"cancel_all() cancelled one download ('b'), but returned {count!r}."
    finally:
        bystander.cancel()
        await asyncio.wait([bystander])
