"""Kata 08 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from semaphores import RateLimiter, map_limited


class FetchError(Exception):
    """What the fake fetch raises for an item that is meant to fail."""


def now() -> float:
    """The event loop's (virtual) clock, in seconds."""
    return round(asyncio.get_running_loop().time(), 6)


def drawing(drawn: Any, name: str) -> contextlib.AbstractContextManager[None]:
    """`drawn` is the `timeline` fixture (or None): the checker draws what ran when."""
    return drawn.span(name) if drawn else contextlib.nullcontext()


class FakeService:
    """A fake slow service: fetch(item) takes delays[item] (virtual) seconds.

    It writes down every call, how many calls were running after each start and finish,
    and which calls were cancelled. Cleanup after a cancel takes a few turns of the loop.
    """

    def __init__(
        self, delays: dict[Any, float], failing: frozenset[Any] = frozenset(), drawn: Any = None
    ) -> None:
        self.delays = delays
        self.drawn = drawn
        self.failing = failing
        self.calls: list[Any] = []
        self.starts: list[float] = []
        self.in_flight = 0
        self.peak = 0
        self.history: list[tuple[float, int]] = []  # (seconds, calls running) after each change
        self.cancelled: list[Any] = []
        self.cleaned_up: list[Any] = []
        self.tasks: list[asyncio.Task[Any]] = []

    async def __call__(self, item: Any) -> str:
        if item not in self.delays:
            pytest.fail(f"fetch was called with {item!r}, which is not one of the items.")
        task = asyncio.current_task()
        if task is not None:
            self.tasks.append(task)
        self.calls.append(item)
        self.starts.append(now())
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.history.append((now(), self.in_flight))
        name = f"fetch({item!r})" + (" fails" if item in self.failing else "")
        try:
            with drawing(self.drawn, name):
                await asyncio.sleep(self.delays[item])
        except asyncio.CancelledError:
            self.cancelled.append(item)
            for _ in range(3):  # closing the connection takes a few turns of the loop
                await asyncio.sleep(0)
            self.cleaned_up.append(item)
            raise
        finally:
            self.in_flight -= 1
            self.history.append((now(), self.in_flight))
        if item in self.failing:
            raise FetchError(f"item {item} failed")
        return f"result {item}"

    def running_over_time(self) -> list[tuple[float, int]]:
        """How many calls were running from each moment on, once that moment had settled."""
        settled: dict[float, int] = {}
        for at, count in self.history:
            settled[at] = count
        return sorted(settled.items())


@pytest.fixture
async def make_service() -> AsyncIterator[Any]:
    """Builds FakeServices; after the test, stops any fake call that is still running."""
    made: list[FakeService] = []

    def make(
        delays: dict[Any, float], failing: frozenset[Any] = frozenset(), drawn: Any = None
    ) -> FakeService:
        made.append(FakeService(delays, failing, drawn))
        return made[-1]

    yield make
    leftovers = [task for fake in made for task in fake.tasks if not task.done()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def pool_finish_time(durations: list[float], limit: int) -> float:
    """When `limit` slots, each taking the next item the moment it is free, are all done."""
    free_at = [0.0] * min(limit, len(durations))
    for duration in durations:
        heapq.heappush(free_at, heapq.heappop(free_at) + duration)
    return max(free_at, default=0.0)


def batches_finish_time(durations: list[float], limit: int) -> float:
    """When gathering `limit` items, then the next `limit`, and so on, would be done."""
    return sum(max(durations[i : i + limit]) for i in range(0, len(durations), limit))


def check_peak(fake: FakeService, limit: int, count: int, call: str) -> None:
    """At most `limit` calls ran at once, and at some moment exactly `limit` did."""
    if fake.peak > limit:
        if fake.peak == limit + 1:
            why = (
                "That is one too many: an off-by-one in the limit, or a semaphore made "
                "with another limit?"
            )
        elif fake.peak == count:
            why = (
                "Every item ran at the same time: nothing limited them. Is a new semaphore "
                "made for every item (inside the coroutine that handles one item)? Make one "
                "per call of map_limited and share it between that call's items."
            )
        else:
            why = "Is the semaphore made with the limit of this call?"
        pytest.fail(f"{call}: {fake.peak} fetches ran at the same time, limit {limit}. {why}")
    if fake.peak == 1:
        why = (
            "One at a time is sequential: start every item and let a Semaphore(limit) hold "
            "back all but `limit` of them."
        )
    elif fake.peak == limit - 1:
        why = "That is one too few: an off-by-one in the limit."
    else:
        why = (
            "Is the semaphore made with the limit of this call (not one made earlier, or a "
            "module-level one with someone else's limit)?"
        )
    assert fake.peak == limit, (
        f"{call}: at most {fake.peak} fetches ran at the same time; with {count} items the "
        f"limit of {limit} should be used in full. {why}"
    )


def check_slots_busy(fake: FakeService, items: list[Any], limit: int, call: str) -> None:
    """Items start in order, and until the last has started, `limit` calls are running."""
    started = dict(zip(fake.calls, fake.starts, strict=True))
    for before, after in itertools.pairwise(items):
        if before in started and after in started and started[after] < started[before]:
            pytest.fail(
                f"{call}: item {after} started at {started[after]} seconds, before item "
                f"{before} (earlier in the list) at {started[before]}. Whenever a slot is "
                "free, start the next waiting item in the order of items. Handing items to "
                "workers in advance (worker 1 gets items 0, 3, 6, ...) leaves a worker idle "
                "while items wait in another worker's share."
            )
    last_start = max(fake.starts, default=0.0)
    idle = [
        (at, count) for at, count in fake.running_over_time() if at < last_start and count != limit
    ]
    assert not idle, (
        f"{call}: at {idle[0][0]} seconds only {idle[0][1]} fetches were running, although "
        f"items were still waiting and the limit is {limit}. Start the next item the moment "
        "any running fetch finishes. Gathering a batch of `limit` and waiting for all of it "
        "before the next batch leaves slots idle; a fetch that raised must give its slot "
        "back too (async with)."
    )


async def call_map_limited(fake: FakeService, items: Any, limit: int, deadline: Any) -> list[Any]:
    async with deadline(60, f"map_limited(fetch, <{len(items)} items>, limit={limit})"):
        result = await map_limited(fake, items, limit)
    assert isinstance(result, list), (
        f"map_limited returned a {type(result).__name__}; it should return a list."
    )
    return result


async def test_map_limited_returns_results_in_the_order_of_items(
    looptime, deadline, make_service
) -> None:
    items = tuple(range(100, 130))  # 30 items, in a tuple
    delays = {item: 0.25 * (1 + item * 7 % 11) for item in items}  # 0.25 s to 2.75 s
    expected = [f"result {item}" for item in items]
    fake = make_service(delays)
    result = await call_map_limited(fake, items, 4, deadline)
    assert result == expected, (
        f"map_limited returned {result[:4]} ...; expected {expected[:4]} ...: one result per "
        "item, in the order of items, whatever order the fetches finish in."
    )
    assert sorted(fake.calls) == sorted(items), (
        f"map_limited made {len(fake.calls)} calls for 30 items; fetch each item once."
    )


async def test_map_limited_never_runs_more_than_limit_at_once(
    looptime, deadline, make_service
) -> None:
    items = list(range(26))
    delays = {item: 0.5 + (item % 4) * 0.25 for item in items}
    fake = make_service(delays)
    await call_map_limited(fake, items, 5, deadline)
    check_peak(fake, 5, 26, "map_limited(fetch, <26 items>, limit=5)")


async def test_map_limited_keeps_every_slot_busy(
    looptime, deadline, make_service, timeline
) -> None:
    # 27 items, limit 3: one slow item (3.5 s) in every group of three, the rest quick.
    items = list(range(27))
    delays = {item: 3.5 if item % 3 == item // 3 % 3 else 0.25 + (item % 2) * 0.5 for item in items}
    durations = [delays[item] for item in items]
    best = pool_finish_time(durations, 3)
    fake = make_service(delays, drawn=timeline)
    with timeline.span("map_limited()"):
        await call_map_limited(fake, items, 3, deadline)
    check_peak(fake, 3, 27, "map_limited(fetch, <27 items>, limit=3)")
    check_slots_busy(fake, items, 3, "map_limited(fetch, <27 items>, limit=3)")
    took = float(looptime)
    if took == batches_finish_time(durations, 3):
        why = "That is batches: three at a time, each batch waiting for its slowest item."
    elif took == sum(durations):
        why = "That is the sum of all the fetches: one at a time."
    else:
        why = "Start each item, in the order of items, as soon as any slot is free."
    assert looptime == best, (
        f"map_limited took {took} seconds; with 3 slots, each taking the next waiting item "
        f"(in the order of items) the moment it is free, it takes exactly {best}. {why}"
    )


async def test_map_limited_a_failing_item_gives_its_slot_back(
    looptime, deadline, make_service, timeline
) -> None:
    # limit 4; items 1 and 2 fail early (after 0.25 and 0.5 s). The rest must still get
    # all 4 slots.
    items = list(range(28))
    delays = {item: 0.75 + (item * 5 % 7) * 0.25 for item in items}
    delays.update({1: 0.25, 2: 0.5})
    durations = [delays[item] for item in items]
    best = pool_finish_time(durations, 4)
    fake = make_service(delays, failing=frozenset({1, 2}), drawn=timeline)
    errors: list[BaseException] = []
    result: list[Any] = []
    try:
        with timeline.span("map_limited()"):
            result = await call_map_limited(fake, items, 4, deadline)
    except* FetchError as group:
        errors = list(group.exceptions)
    assert not errors, (
        f"map_limited raised {errors!r}. A failing fetch should not stop the batch: its "
        "exception takes its place in the results (asyncio.gather(..., "
        "return_exceptions=True)), and the other items go on."
    )
    failed = {n: result[n] for n in (1, 2)} if len(result) == len(items) else {}
    assert (
        all(
            isinstance(error, FetchError) and str(error) == f"item {n} failed"
            for n, error in failed.items()
        )
        and len(failed) == 2
    ), (
        f"Items 1 and 2 failed; their places in the results should hold the exceptions "
        f"fetch raised (FetchError('item 1 failed'), ...), but map_limited returned "
        f"{result[:4]} ..."
    )
    expected = [f"result {item}" for item in items if item not in (1, 2)]
    assert [r for i, r in enumerate(result) if i not in (1, 2)] == expected, (
        f"map_limited returned {result[:5]} ...; apart from the two failures, every item "
        "should have its own result, in the order of items."
    )
    check_peak(fake, 4, 28, "map_limited(fetch, <28 items, 2 failing>, limit=4)")
    check_slots_busy(fake, items, 4, "map_limited(fetch, <28 items, 2 failing>, limit=4)")
    assert looptime == best, (
        f"map_limited took {float(looptime)} seconds; with all 4 slots in use until the end "
        f"it takes {best}. A failed fetch must give its slot back (use `async with sem:`, "
        "or release in a `finally`)."
    )


async def test_map_limited_each_call_has_its_own_limit(looptime, deadline, make_service) -> None:
    first = make_service({item: 1.5 for item in range(8)})
    await call_map_limited(first, list(range(8)), 2, deadline)
    check_peak(first, 2, 8, "map_limited(fetch, <8 items>, limit=2)")
    second = make_service({item: 1.5 for item in range(12)})
    await call_map_limited(second, list(range(12)), 5, deadline)
    check_peak(second, 5, 12, "The next call, map_limited(fetch, <12 items>, limit=5)")
    # Two calls at the same time, each with limit 3: each one gets its own 3 slots.
    left = make_service({item: 0.75 for item in range(9)})
    right = make_service({item: 0.75 for item in range(9)})
    start = float(looptime)
    async with deadline(60, "two map_limited(fetch, <9 items>, limit=3) at the same time"):
        await asyncio.gather(
            map_limited(left, list(range(9)), 3), map_limited(right, list(range(9)), 3)
        )
    check_peak(left, 3, 9, "Of two calls at the same time, each with limit 3, the first")
    check_peak(right, 3, 9, "Of two calls at the same time, each with limit 3, the second")
    assert float(looptime) - start == 2.25, (
        f"Two calls of map_limited at the same time, each with 9 items of 0.75 s and limit "
        f"3, took {round(float(looptime) - start, 6)} seconds; each call has its own 3 slots, so "
        "both are done after 2.25. Don't share one semaphore between calls."
    )


async def test_map_limited_with_few_or_no_items(looptime, deadline, make_service) -> None:
    items = [7, 3, 7, 5]  # 7 is listed twice
    fake = make_service({7: 1.25, 3: 0.5, 5: 2})
    result = await call_map_limited(fake, items, 50, deadline)
    assert result == ["result 7", "result 3", "result 7", "result 5"], (
        f"map_limited(fetch, [7, 3, 7, 5], limit=50) returned {result!r}; expected "
        "['result 7', 'result 3', 'result 7', 'result 5']: one result per item, repeats "
        "included, in the order of items."
    )
    assert items == [7, 3, 7, 5], f"map_limited changed the caller's list: {items}."
    assert looptime == 2, (
        f"With limit 50 and 4 items, all 4 should run at once and be done after 2 seconds "
        f"(the slowest); map_limited took {float(looptime)}."
    )
    empty = make_service({})
    result = await call_map_limited(empty, [], 3, deadline)
    assert result == [], f"map_limited(fetch, [], limit=3) returned {result!r}; expected []."


async def test_map_limited_cancelled_by_its_caller_stops_every_fetch(
    looptime, deadline, make_service
) -> None:
    items = list(range(25))
    fake = make_service({item: 1 for item in items})
    task = asyncio.create_task(map_limited(fake, items, 3))
    await asyncio.sleep(2.5)  # six items are done, three are running
    if task.done():
        task.result()  # shows what went wrong
    task.cancel()
    async with deadline(60, "map_limited, after its caller cancelled it"):
        await asyncio.gather(task, return_exceptions=True)
    if not task.cancelled():
        error = task.exception()
        what = f"raised {error!r}" if error else f"returned a list of {len(task.result())}"
        pytest.fail(
            f"map_limited was cancelled by its caller, but it did not end cancelled: it "
            f"{what}. Let CancelledError go up; don't catch it."
        )
    running = sorted(set(fake.calls) - set(fake.cleaned_up) - set(range(6)))
    assert fake.in_flight == 0, (
        f"map_limited ended after being cancelled while fetches {running} were still "
        "running. When map_limited is cancelled, the fetches it started must be cancelled "
        "too, and have stopped before it ends (gather and TaskGroup do that for you)."
    )
    calls = len(fake.calls)
    await asyncio.sleep(5)
    assert len(fake.calls) == calls, (
        f"map_limited was cancelled at 2.5 seconds, when {calls} items had started, but "
        f"{len(fake.calls)} had started 5 seconds later. After a cancel, no new item may start."
    )


def describe(times: list[float]) -> str:
    """[0, 0, 1] -> '2 at 0 s, 1 at 1 s'."""
    counts = Counter(times)
    parts = [f"{counts[at]} at {at:g} s" for at in sorted(counts)]
    return ", ".join(parts[:8]) + (", ..." if len(parts) > 8 else "") if parts else "none"


async def acquire_at(
    limiter: RateLimiter, at: float, times: list[float], work: float, drawn: Any = None
) -> None:
    """At `at` seconds, wait for the limiter, note when it let us through, then work."""
    await asyncio.sleep(at - now())
    with drawing(drawn, f"acquire() at {at:g}s"):
        await limiter.acquire()
    times.append(now())
    await asyncio.sleep(work)


async def test_rate_limiter_lets_per_second_through_each_second(looptime, deadline) -> None:
    four = RateLimiter(4)
    seven = RateLimiter(7)
    times_four: list[float] = []
    times_seven: list[float] = []
    async with deadline(60, "30 RateLimiter(4).acquire() and 10 RateLimiter(7).acquire()"):
        await asyncio.gather(
            *(acquire_at(four, 0, times_four, 2.5) for _ in range(30)),
            *(acquire_at(seven, 0, times_seven, 2.5) for _ in range(10)),
        )
    expected_four = [float(n // 4) for n in range(30)]  # 0, 0, 0, 0, 1, 1, 1, 1, 2, ...
    assert sorted(times_four) == expected_four, (
        f"30 callers asked a RateLimiter(4) at 0 seconds; they got through: "
        f"{describe(times_four)}. Expected 4 at once, then 4 more each second: "
        f"{describe(expected_four)}. Each slot comes back one second after it was taken, "
        "however long the caller's work (here 2.5 s) takes."
    )
    assert sorted(times_seven) == [0.0] * 7 + [1.0] * 3, (
        f"10 callers asked a RateLimiter(7) at 0 seconds (while a RateLimiter(4) was busy "
        f"too); they got through: {describe(times_seven)}. Expected 7 at 0 s and 3 at 1 s. "
        "Every RateLimiter has its own slots."
    )


async def test_rate_limiter_slot_comes_back_one_second_after_it_was_taken(
    looptime, deadline, timeline
) -> None:
    limiter = RateLimiter(2)
    times: list[float] = []
    async with deadline(60, "RateLimiter(2).acquire() at 0, 0.75, 1.25, 1.25 and 3 seconds"):
        await asyncio.gather(
            acquire_at(limiter, 0, times, 0.25, timeline),
            acquire_at(limiter, 0.75, times, 0.25, timeline),
            acquire_at(limiter, 1.25, times, 0.25, timeline),
            acquire_at(limiter, 1.25, times, 0.25, timeline),
            acquire_at(limiter, 3, times, 0.25, timeline),
        )
    expected = [0, 0.75, 1.25, 1.75, 3]
    assert sorted(times) == expected, (
        f"A RateLimiter(2) was asked at 0, 0.75, 1.25, 1.25 and 3 seconds; it let them "
        f"through at {sorted(times)}. Expected {expected}: the slot taken at 0 comes back "
        "at 1 (so the first caller at 1.25 goes at once), the one taken at 0.75 comes back "
        "at 1.75 (so the second waits until then). Not a fixed window that resets every "
        "second, and not one caller every 1/per_second seconds."
    )


async def test_rate_limiter_cancelled_waiter_takes_no_slot(looptime, deadline) -> None:
    limiter = RateLimiter(1)
    times: list[float] = []
    first = asyncio.create_task(acquire_at(limiter, 0, times, 0))
    waiter = asyncio.create_task(acquire_at(limiter, 0.25, times, 0))
    await asyncio.sleep(0.5)  # the waiter is waiting for the slot taken at 0
    if waiter.done():
        waiter.result()  # shows what went wrong
    waiter.cancel()
    async with deadline(60, "a RateLimiter(1).acquire() that was cancelled while waiting"):
        await asyncio.gather(first, waiter, return_exceptions=True)
    assert waiter.cancelled(), (
        "A caller waiting in acquire() was cancelled, but acquire() did not end "
        "cancelled. Let CancelledError go up; don't catch it."
    )
    async with deadline(60, "RateLimiter(1).acquire() at 0.75 and 1.5 seconds"):
        await asyncio.gather(
            acquire_at(limiter, 0.75, times, 0), acquire_at(limiter, 1.5, times, 0)
        )
    assert times == [0, 1, 2], (
        f"A RateLimiter(1) was taken at 0; a caller that waited from 0.25 was cancelled at "
        f"0.5; then callers came at 0.75 and 1.5. They got through at {times}; expected "
        "[0, 1, 2]. The cancelled caller never got through, so it must not use up a slot."
    )
