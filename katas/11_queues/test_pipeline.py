"""Kata 11 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Hashable, Sequence
from typing import Any

import pytest
from pipeline import process_all


class HandleError(Exception):
    """What the fake handle raises for an item that is meant to fail."""


class SourceError(Exception):
    """What the fake source raises when it is meant to break down."""


class Work:
    """A fake `handle` and the record of everything that happened to the items.

    handle(item) takes `delay(item)` seconds and returns f"done {item}", or raises
    HandleError for a failing item. Cancelled, it needs a few turns of the event loop to
    clean up, like real code that closes a connection. `taken` counts the items the
    source has handed out; `peak_ahead` is the most items ever taken but not yet done.
    With `drawn` (the `timeline` fixture) the checker draws what ran when, a row per
    item, named after the worker (the task) that handled it.
    """

    def __init__(
        self,
        delays: dict[Hashable, float] | float,
        failing: frozenset = frozenset(),
        echo: bool = False,
        drawn: Any = None,
    ):
        self.delays = delays
        self.drawn = drawn
        # task -> worker number, for the timeline; weak, so that it keeps no task alive
        self.workers: weakref.WeakKeyDictionary[asyncio.Task[Any], int] = (
            weakref.WeakKeyDictionary()
        )
        self.worker_count = 0
        self.echo = echo  # handle(item) returns the item object itself
        self.failing = failing
        self.taken = 0
        self.calls: list[Any] = []
        self.running: list[Any] = []
        self.done: list[Any] = []
        self.cancelled: list[Any] = []
        self.cleaned_up: list[Any] = []
        self.in_flight = 0
        self.peak = 0
        self.peak_ahead = 0

    def delay(self, item: Any) -> float:
        return self.delays if isinstance(self.delays, int | float) else self.delays[item]

    def drawing(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self.drawn.span(name) if self.drawn else contextlib.nullcontext()

    def worker_name(self) -> str:
        """Worker 1 is the first task that called handle, worker 2 the next one, and so on."""
        task = asyncio.current_task()
        if not self.drawn or task is None:
            return "worker"
        if task not in self.workers:
            self.worker_count += 1
            self.workers[task] = self.worker_count
        return f"worker {self.workers[task]}"

    async def handle(self, item: Any) -> str:
        self.calls.append(item)
        self.running.append(item)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            with self.drawing(f"{self.worker_name()}: handle({item!r})"):
                await asyncio.sleep(self.delay(item))
        except asyncio.CancelledError:
            self.cancelled.append(item)
            for _ in range(3):  # cleanup that takes a few turns of the loop
                await asyncio.sleep(0)
            self.cleaned_up.append(item)
            raise
        finally:
            self.in_flight -= 1
            self.running.remove(item)
        self.done.append(item)
        if self.failing and item in self.failing:
            raise HandleError(f"cannot handle {item!r}")
        return item if self.echo else f"done {item}"

    def source(
        self,
        items: Sequence[Any],
        every: float = 0,
        fail_after: int | None = None,
        drawn: bool = False,
    ) -> Source:
        """`drawn=True`: the timeline shows when the source gave each item, too."""
        return Source(self, items, every, fail_after, drawn)

    def summary(self) -> str:
        return (
            f"the source had given {self.taken} items and handle had finished "
            f"{len(self.done)} of them ({self.in_flight} still running)"
        )


class Source:
    """A fake async source: `async for` gets `items`, each after `every` seconds.

    With `fail_after=n` it raises SourceError when asked for item number n + 1.
    """

    def __init__(
        self,
        work: Work,
        items: Sequence[Any],
        every: float,
        fail_after: int | None,
        drawn: bool = False,
    ):
        self.work = work
        self.drawn = drawn
        self.items = list(items)
        self.every = every
        self.fail_after = fail_after
        self.index = 0

    def __aiter__(self) -> Source:
        return self

    async def __anext__(self) -> Any:
        if self.index == self.fail_after:
            raise SourceError(f"the source broke down after {self.index} items")
        if self.index >= len(self.items):
            raise StopAsyncIteration
        name = f"source gives {self.items[self.index]!r}"
        with self.work.drawing(name) if self.drawn else contextlib.nullcontext():
            if self.every:
                await asyncio.sleep(self.every)
        item = self.items[self.index]
        self.index += 1
        work = self.work
        work.taken += 1
        work.peak_ahead = max(work.peak_ahead, work.taken - len(work.done))
        return item


@contextlib.asynccontextmanager
async def within(seconds: float, call: str, work: Work) -> AsyncIterator[None]:
    """A deadline that says what the pipeline had done when it got stuck.

    When the call returns, it also checks that no task the call started is still running.
    """
    before = set(asyncio.all_tasks())
    timer = asyncio.timeout(seconds)
    try:
        async with timer:
            yield
    except TimeoutError:
        if not timer.expired():
            raise
        if work.cancelled and not work.in_flight:
            why = (
                "Its workers were cancelled in the middle of an item, and then it kept waiting "
                "for them. Does a worker catch the CancelledError (`except BaseException:` or "
                "a bare `except:`) and carry on with its loop? Catch only Exception."
            )
        elif len(work.done) == work.taken and not work.in_flight:
            why = (
                "Every item it got had been handled, yet it kept waiting. If you wait with "
                "queue.join(), each queue.get() needs its queue.task_done(), failed items "
                "too (put it in a `finally`). If you stop the workers with sentinels, each "
                "worker needs one of its own."
            )
        elif not work.in_flight:
            why = (
                "Items were left and no worker was handling any. Did a worker die on an "
                "error, or stop because the queue was empty for a moment? Did the workers "
                "start only after the producer (whose put waits for room in a full queue)?"
            )
        else:
            why = "Is something waiting for an event that never comes?"
        pytest.fail(
            f"{call} did not finish within {seconds} seconds of event-loop time: by then "
            f"{work.summary()}. {why}"
        )
    await check_no_tasks_left(before)


async def check_no_tasks_left(before: set[asyncio.Task[Any]]) -> None:
    """Fail if a task started since `before` is still running (it is stopped first)."""
    me = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t not in before and t is not me and not t.done()]
    if not left:
        return
    cancelled = all(t.cancelling() > 0 for t in left)
    names = ", ".join(sorted({t.get_coro().__qualname__ for t in left}))
    for task in left:  # tidy up, so the next test starts clean
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    if cancelled:
        pytest.fail(
            f"{len(left)} task(s) that process_all started were still running after it "
            f"finished ({names}). You cancelled them, but task.cancel() only asks: the task "
            "stops at its next turn, and cleaning up can take several. Await the cancelled "
            "workers (e.g. `asyncio.gather(*workers, return_exceptions=True)`) before you "
            "return."
        )
    pytest.fail(
        f"{len(left)} task(s) that process_all started were still running after it finished "
        f"({names}). When the work is done, stop every worker and wait for it: cancel them "
        "and await them, or send each a sentinel and await them (a TaskGroup waits for you)."
    )


def expected(items: Sequence[Any], failing: frozenset = frozenset()) -> list[str]:
    return [f"error {item}" if item in failing else f"done {item}" for item in items]


def shown(results: list[Any]) -> list[Any]:
    """Results as the tests compare them: an exception as f"error {item}"."""
    out: list[Any] = []
    for result in results:
        if isinstance(result, HandleError):
            out.append("error " + str(result).removeprefix("cannot handle ").strip("'"))
        else:
            out.append(result)
    return out


def check_results(results: object, want: list[Any], call: str, finished: str = "") -> None:
    """Fail with a message that says what is wrong with the results, if anything is."""
    if results == want:
        return
    if not isinstance(results, list):
        pytest.fail(f"{call} returned {results!r}; it should return a list.")
    if len(results) != len(want):
        pytest.fail(
            f"{call} returned {len(results)} results for {len(want)} items: {results!r}. "
            "Return one result per item the source gave, duplicates included."
        )
    if sorted(map(repr, results)) == sorted(map(repr, want)):
        pytest.fail(
            f"{call} returned {results!r}; expected {want!r}. The results must line up with "
            "the items in the order the source gave them, not the order the workers finished "
            f"them{finished}. Put (index, item) on the queue and store each result at its "
            "index."
        )
    pytest.fail(
        f"{call} returned {results!r}; expected {want!r}. Some results are missing or wrong. "
        "Did the workers stop before every item was handled? `await queue.join()` waits "
        "until every item has had its task_done()."
    )


async def test_process_all_returns_results_in_source_order(looptime) -> None:
    # item 0 is the slowest: the workers finish them in the order 3, 2, 1, 0.
    work = Work({"a": 4, "b": 3, "c": 2, "d": 1})
    items = ["a", "b", "c", "d"]
    want = expected(items)
    async with within(60, "process_all(source, handle, workers=4, maxsize=2)", work):
        results = await process_all(work.source(items), work.handle, workers=4, maxsize=2)
    check_results(results, want, "process_all", finished=" (here d, c, b, a)")
    assert looptime == 4, (
        f"process_all took {float(looptime)} seconds; four workers handling items of 4, 3, "
        "2 and 1 seconds at once are done after 4."
    )


async def test_process_all_runs_exactly_workers_items_at_once(looptime, timeline) -> None:
    delays = {"a": 1.25, "b": 0.5, "c": 0.75, "d": 0.5, "e": 1, "f": 0.25, "g": 0.5}
    work = Work(delays, drawn=timeline)
    items = list(delays)
    async with within(60, "process_all(source, handle, workers=3, maxsize=2)", work):
        with timeline.span("process_all()"):
            results = await process_all(work.source(items), work.handle, workers=3, maxsize=2)
    check_results(results, expected(items), "process_all")
    assert work.peak <= 3, (
        f"{work.peak} items were being handled at the same moment with workers=3. Exactly "
        "`workers` worker tasks should take items, each one item at a time (no task per "
        "item, no extra worker)."
    )
    assert work.peak == 3, (
        f"Only {work.peak} item(s) were ever handled at the same moment, with workers=3. "
        + (
            "That is one worker doing everything, one item after another. "
            if work.peak == 1
            else ""
        )
        + "Start `workers` worker tasks before the producer puts anything on the queue."
    )
    # Three workers, each taking the next item as soon as it is free: a, b, c start at 0;
    # d at 0.5 (after b), e at 0.75 (after c), f at 1.0 (after d), g at 1.25: done at 1.75.
    assert looptime == 1.75, (
        f"Items of 1.25, 0.5, 0.75, 0.5, 1, 0.25 and 0.5 seconds with 3 workers should be done "
        f"after 1.75 seconds, each worker taking the next item as soon as it is free; it took "
        f"{float(looptime)}. "
        + (
            "2.75 is batches of 3, each waiting for its slowest item: let each worker loop "
            "on queue.get() on its own instead."
            if looptime == 2.75
            else "Is a worker waiting for the others, or for something else, between items?"
        )
    )


async def test_process_all_handles_every_item_once_in_a_big_batch_with_duplicates(
    looptime,
) -> None:
    items = [(i * 7) % 20 for i in range(57)]  # 57 items; every value comes 2 or 3 times
    delays = {value: (value % 4 + 1) * 0.25 for value in set(items)}
    work = Work(delays)
    want = expected(items)
    async with within(60, "process_all(source, handle, workers=4, maxsize=5)", work):
        results = await process_all(work.source(items), work.handle, workers=4, maxsize=5)
    calls = Counter(work.calls)
    lost = sorted((Counter(items) - calls).elements())
    twice = sorted((calls - Counter(items)).elements())
    assert not lost and not twice, (
        f"Of 57 items (with duplicate values), handle was never called for {lost} and "
        f"once too often for {twice}. Every item the source gives must be handled exactly "
        "once, equal values included: no cap on how many items you read, no skipping "
        "values you have seen."
    )
    check_results(results, want, "process_all")
    assert work.peak == 4, f"{work.peak} items were handled at once with workers=4."


async def test_process_all_keeps_equal_items_apart(looptime) -> None:
    # Messages are often dicts: equal ones can come twice, and they can't be dict keys.
    messages = [{"id": n % 4} for n in range(10)]
    work = Work(0.5, echo=True)  # handle(message) gives back that very message object
    unhashable: list[TypeError] = []
    try:
        async with within(60, "process_all(source of dicts, handle, workers=3, maxsize=2)", work):
            results = await process_all(work.source(messages), work.handle, workers=3, maxsize=2)
    except* TypeError as group:  # only "unhashable type" is explained here; others go on
        unhashable = [e for e in group.exceptions if "unhashable" in str(e)]
        if len(unhashable) < len(group.exceptions):
            raise
    assert not unhashable, (
        f"With dicts as items, process_all failed: {unhashable[0]}. Items can be anything, "
        "also things that can't be dict keys or set members: keep each result by the item's "
        "position (its index), not by the item."
    )
    check_results(results, messages, "process_all")
    assert all(got is sent for got, sent in zip(results, messages, strict=True)), (
        f"process_all returned {results!r}. results[i] must be what handle returned for the "
        "i-th message, even when another message is equal to it: keep each result by the "
        "item's position (its index), not in a dict keyed by the item."
    )


async def test_process_all_holds_the_producer_back_when_the_queue_is_full(
    looptime, timeline
) -> None:
    work = Work(1, drawn=timeline)
    items = list(range(12))
    async with within(60, "process_all(source, handle, workers=2, maxsize=3)", work):
        with timeline.span("process_all()"):
            results = await process_all(
                work.source(items, drawn=True), work.handle, workers=2, maxsize=3
            )
    check_results(results, expected(items), "process_all")
    # At most: 2 items in the workers, 3 waiting on the queue, 1 in the producer's hand.
    most = 2 + 3 + 1
    if work.peak_ahead > most:
        extra = (
            "It read the whole source at once: the queue has no limit. "
            if work.peak_ahead == len(items)
            else ""
        )
        pytest.fail(
            f"The producer got {work.peak_ahead} items ahead of the workers; with "
            f"workers=2 and maxsize=3 it may be at most {most} ahead (2 being handled, 3 on "
            f"the queue, 1 waiting to be put). {extra}Make the queue with "
            "asyncio.Queue(maxsize=maxsize) and `await queue.put(...)` each item, so a full "
            "queue makes the producer wait."
        )
    assert work.peak_ahead == most, (
        f"The producer was never more than {work.peak_ahead} items ahead of the workers; "
        f"with workers=2 and maxsize=3 the queue should fill up: 2 items being handled, 3 "
        "waiting on the queue and 1 more read from the source. Make the queue with "
        "maxsize=maxsize (not smaller) and read the next item as soon as the previous one "
        "is on the queue."
    )
    assert looptime == 6, (
        f"12 items of 1 second with 2 workers should take 6 seconds; it took {float(looptime)}."
    )


async def test_process_all_starts_work_while_the_source_is_still_producing(
    looptime, timeline
) -> None:
    work = Work(0.5, drawn=timeline)
    items = ["a", "b", "c", "d"]  # one item every second: at 1, 2, 3 and 4 seconds
    async with within(60, "process_all(source, handle, workers=2, maxsize=1)", work):
        with timeline.span("process_all()"):
            results = await process_all(
                work.source(items, every=1, drawn=True), work.handle, workers=2, maxsize=1
            )
    check_results(results, expected(items), "process_all")
    assert looptime == 4.5, (
        f"process_all took {float(looptime)} seconds. The source gives an item every second "
        "and each takes half a second to handle, so the last one is done at 4.5 seconds. "
        + (
            "5 seconds means it read the whole source first and only then handled the items: "
            "the workers should be running and take each item as soon as it is put."
            if looptime == 5
            else "Each item should be handled as soon as the source gives it."
        )
    )


async def test_process_all_of_an_empty_source_returns_an_empty_list() -> None:
    work = Work(1)
    async with within(60, "process_all(empty source, handle, workers=3, maxsize=2)", work):
        results = await process_all(work.source([]), work.handle, workers=3, maxsize=2)
    assert results == [] and isinstance(results, list), (
        f"process_all with an empty source returned {results!r}; expected []."
    )
    assert work.calls == [], f"handle was called with {work.calls!r}, but there were no items."


async def test_process_all_stops_its_workers_and_leaves_other_tasks_alone(looptime) -> None:
    bystander = asyncio.create_task(asyncio.sleep(3600), name="someone else's task")
    await asyncio.sleep(0)
    work = Work(1)
    items = list(range(6))
    try:
        async with within(60, "process_all(source, handle, workers=3, maxsize=2)", work):
            results = await process_all(work.source(items), work.handle, workers=3, maxsize=2)
        bystander_ok = not bystander.done()
    finally:
        bystander.cancel()
        await asyncio.gather(bystander, return_exceptions=True)
    assert bystander_ok, (
        "process_all stopped a task that was not its own: another task on the event loop was "
        "cancelled. Stop only the worker tasks you started (keep them in a list), never "
        "every task in asyncio.all_tasks()."
    )
    check_results(results, expected(items), "process_all")
    assert looptime == 2, f"6 items of 1 s with 3 workers took {float(looptime)} s, not 2."


async def test_process_all_keeps_going_after_a_failing_item(looptime) -> None:
    failing = frozenset({3, 4})  # one failure for each of the two workers
    work = Work(1, failing)
    items = list(range(10))
    raised: list[HandleError] = []
    try:
        async with within(60, "process_all(source, handle, workers=2, maxsize=2)", work):
            results = await process_all(work.source(items), work.handle, workers=2, maxsize=2)
    except* HandleError as group:  # on its own, or inside an ExceptionGroup
        raised.extend(group.exceptions)
    assert not raised, (
        f"process_all raised {raised[0]!r} because handle failed for one item. A failing "
        "item must not stop the others: catch the Exception around handle(item), store it "
        "as that item's result, and let the worker go on."
    )
    want = expected(items, failing)
    got = shown(results)
    assert len(got) == len(want) and all(isinstance(results[i], HandleError) for i in (3, 4)), (
        f"process_all returned {results!r}. The results for items 3 and 4, whose handle "
        "raised HandleError, should be those exceptions themselves (the exception object, "
        "not a string or None)."
    )
    assert got == want, (
        f"process_all returned {results!r}; expected the results of every item, with the "
        "HandleError of items 3 and 4 in their places. A worker must go on after an item "
        "fails."
    )
    assert work.peak == 2 and looptime == 5, (
        f"10 items of 1 second with 2 workers took {float(looptime)} seconds (at most "
        f"{work.peak} at once); expected 5. Did a worker stop after its item failed? Catch "
        "Exception around handle(item) inside the worker's loop."
    )


async def test_process_all_raises_when_the_source_fails_and_stops_the_workers() -> None:
    work = Work(1)
    source = work.source(list(range(10)), fail_after=3)  # 3 items, then SourceError
    before = set(asyncio.all_tasks())
    errors: list[SourceError] = []
    results = None
    try:
        async with within(60, "process_all(failing source, handle, workers=2, maxsize=2)", work):
            results = await process_all(source, work.handle, workers=2, maxsize=2)
    except* SourceError as group:  # on its own, or inside an ExceptionGroup
        errors.extend(group.exceptions)
    assert errors, (
        f"The source raised SourceError after 3 items, but process_all returned {results!r}. "
        "Don't hide the error: stop the workers and let it reach the caller."
    )
    await check_no_tasks_left(before)
    unfinished = [i for i in work.calls if i not in work.done and i not in work.cleaned_up]
    assert not unfinished, (
        f"When process_all raised, handle({unfinished[0]!r}) was still cleaning up after being "
        "cancelled. task.cancel() only asks; await the cancelled workers so their cleanup "
        "has finished before the error goes out."
    )


async def test_process_all_cancelled_by_its_caller_cancels_the_workers(looptime) -> None:
    work = Work(1)
    items = list(range(10))
    before = set(asyncio.all_tasks())
    task = asyncio.create_task(process_all(work.source(items), work.handle, workers=2, maxsize=2))
    await asyncio.sleep(1.5)  # items 0 and 1 are done, 2 and 3 are being handled
    if task.done():  # it should still be working: let its error (if any) out as it is
        result = task.result()
        pytest.fail(f"process_all returned {result!r} after 1.5 seconds, with 10 items to do.")
    running, started = list(work.running), len(work.calls)
    task.cancel()
    async with within(60, "process_all after it was cancelled", work):
        await asyncio.wait([task])
    if not task.cancelled():
        outcome = task.exception() or f"returned {task.result()!r}"
        pytest.fail(
            f"process_all was cancelled, but it {outcome}. A cancelled process_all must end "
            "cancelled: stop the workers and let the CancelledError go on (don't catch it, "
            "or re-raise it)."
        )
    await check_no_tasks_left(before)
    assert sorted(work.cleaned_up) == sorted(running), (
        f"When process_all was cancelled, handle was working on {running!r}; the ones that "
        f"finished their cancellation cleanup were {work.cleaned_up!r}. Cancel the workers "
        "and wait until they have stopped."
    )
    assert work.calls[started:] == [], (
        f"After process_all was cancelled, handle was still called for "
        f"{work.calls[started:]!r}. Once cancelled, no worker should start another item."
    )
    assert looptime == 1.5, (
        f"process_all ended {float(looptime) - 1.5} seconds after it was cancelled; it should "
        "stop at once, not finish the work first."
    )


async def test_process_all_can_run_twice_with_other_settings(looptime) -> None:
    first, second = Work(1), Work({"x": 2, "y": 1})
    async with within(60, "the first process_all(..., workers=3, maxsize=1)", first):
        one = await process_all(first.source([1, 2, 3]), first.handle, workers=3, maxsize=1)
    async with within(60, "the second process_all(..., workers=1, maxsize=4)", second):
        two = await process_all(second.source(["x", "y"]), second.handle, workers=1, maxsize=4)
    check_results(one, expected([1, 2, 3]), "The first process_all")
    check_results(two, expected(["x", "y"]), "The second process_all")
    assert second.peak == 1 and looptime == 1 + 3, (
        f"With workers=1, the second call should handle one item at a time (3 seconds in "
        f"all); it ran {second.peak} at once and the two calls took {float(looptime)} s."
    )
