"""Kata 03 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import Counter
from typing import Any

import pytest
from gather import fetch_all, fetch_profile


class FakeApi:
    """A fake slow service that records how it was called.

    It keeps every call it got, a timeline of starts and finishes, and the largest
    number of calls that were running at the same moment. A cancelled call takes a few
    turns of the event loop to clean up, like a real connection being closed.
    """

    def __init__(self, drawn: Any = None) -> None:
        self.calls: list[str] = []
        self.timeline: list[str] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.drawn = drawn  # the `timeline` fixture: the checker draws what ran when

    async def call(self, name: str, seconds: float, value: Any) -> Any:
        self.calls.append(name)
        self.timeline.append(f"start {name}")
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            with self.drawn.span(name) if self.drawn else contextlib.nullcontext():
                await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.timeline.append(f"cancel {name}")
            for _ in range(3):  # closing the connection takes a few turns
                await asyncio.sleep(0)
            raise
        finally:
            self.in_flight -= 1
        self.timeline.append(f"finish {name}")
        return value


def make_fetch(delays: dict[int, float], broken: int | None = None, drawn: Any = None):
    """fetch(id) takes delays[id] seconds and returns "item <id>"; fetch(broken) raises."""
    api = FakeApi(drawn)

    async def fetch(item_id: int) -> str:
        if item_id not in delays:
            pytest.fail(f"fetch was called with {item_id!r}, which is not one of the ids.")
        value = await api.call(f"fetch({item_id})", delays[item_id], f"item {item_id}")
        if item_id == broken:
            raise LookupError(f"item {item_id} not found")
        return value

    return fetch, api


class ProfileDown(Exception):
    """What a failing fake profile fetch raises."""


def make_profile_fetches(user_seconds: float = 3, orders_seconds: float = 2, broken: str = ""):
    """fetch_user(id) takes 3 seconds, fetch_orders(id) 2: the orders arrive first.

    `broken` names the one ("user" or "orders") that raises ProfileDown at its end.
    """
    api = FakeApi()

    async def fetch_user(user_id: int) -> str:
        user = await api.call(f"fetch_user({user_id})", user_seconds, f"user {user_id}")
        if broken == "user":
            raise ProfileDown(f"no user {user_id}")
        return user

    async def fetch_orders(user_id: int) -> list[str]:
        orders = await api.call(f"fetch_orders({user_id})", orders_seconds, [f"order {user_id}-1"])
        if broken == "orders":
            raise ProfileDown(f"no orders for {user_id}")
        return orders

    return fetch_user, fetch_orders, api


async def check_finished(result: object, call: str) -> None:
    """Fail with a clear message if `result` is, or holds, work that nobody awaited."""
    things = [result, *result] if isinstance(result, list | tuple) else [result]
    pending = [thing for thing in things if inspect.isawaitable(thing)]
    if not pending:
        return
    first = pending[0]
    if inspect.iscoroutine(first):
        what = f"the coroutine {first.__name__}(...), never awaited"
    else:
        what = f"a {type(first).__name__.lstrip('_')} that was never awaited"
    # Tidy up first, so Python doesn't add its own warnings about this unfinished work.
    for thing in pending:
        if inspect.iscoroutine(thing):
            thing.close()
        elif isinstance(thing, asyncio.Future):
            thing.cancel()
    futures = [thing for thing in pending if isinstance(thing, asyncio.Future)]
    await asyncio.gather(*futures, return_exceptions=True)
    pytest.fail(
        f"{call} gave back {what}, instead of a finished value. A coroutine or task is "
        "work still to be done: await it (asyncio.gather(...) is awaitable too) to get the "
        "value it produces."
    )


def check_fetched(api: FakeApi, call: str) -> None:
    """Fail with a clear message if the learner's code never called the fake at all."""
    if not api.calls:
        pytest.fail(
            f"{call} never called fetch this time. Did it hand back results kept from an "
            "earlier call? Every call must fetch again: the data may have changed."
        )


def what_happened(api: FakeApi) -> str:
    return ", ".join(api.timeline) or "nothing was called"


def check_ids_untouched(ids: object, given: list[int]) -> None:
    assert list(ids) == given, (  # type: ignore[call-overload]
        f"fetch_all changed the list of ids it was given: it was {given}, now it is "
        f"{list(ids)}. The caller still needs that list; read it, don't sort or "
        "change it."
    )


def first_difference(result: object, expected: list[str]) -> str:
    """Describe where a long result first differs from what was expected."""
    if not isinstance(result, list | tuple):
        return repr(result)
    if len(result) != len(expected):
        return f"{len(result)} results for {len(expected)} ids"
    i = next(i for i, (got, want) in enumerate(zip(result, expected, strict=True)) if got != want)
    return f"{result[i]!r} at position {i}, where {expected[i]!r} belongs"


async def wait_until_done(task: asyncio.Task[Any]) -> None:
    """Wait until `task` has ended, whether it returned, raised or was cancelled."""
    await asyncio.wait([task])


async def test_fetch_all_returns_results_in_the_order_of_ids(deadline) -> None:
    fetch, _ = make_fetch({1: 3, 2: 1, 3: 2})  # they finish in the order 2, 3, 1
    async with deadline(60, "fetch_all(fetch, [1, 2, 3])"):
        result = await fetch_all(fetch, [1, 2, 3])
    await check_finished(result, "fetch_all")
    assert isinstance(result, list), (
        f"fetch_all returned a {type(result).__name__}; it should return a list."
    )
    assert result == ["item 1", "item 2", "item 3"], (
        f"fetch_all(fetch, [1, 2, 3]) returned {result!r}; expected "
        "['item 1', 'item 2', 'item 3']. The results must line up with ids, not with the "
        "order the fetches finish in (here 2, then 3, then 1). asyncio.gather keeps the "
        "order you pass things in; asyncio.as_completed does not."
    )


async def test_fetch_all_runs_every_fetch_at_once(deadline, timeline) -> None:
    fetch, api = make_fetch({1: 3, 2: 1, 3: 2}, drawn=timeline)
    async with deadline(60, "fetch_all(fetch, [1, 2, 3])"):
        result = await fetch_all(fetch, [1, 2, 3])
    await check_finished(result, "fetch_all")
    check_fetched(api, "fetch_all")
    assert api.peak_in_flight <= 3, (
        f"{api.peak_in_flight} fetches were running at once for just 3 ids, so some ids were "
        f"fetched more than once. What happened: {what_happened(api)}. Call fetch once per id."
    )
    assert api.peak_in_flight == 3, (
        f"At most {api.peak_in_flight} of the 3 fetches were running at the same time; all "
        f"3 should start before any of them finishes. What happened: {what_happened(api)}. "
        "Awaiting each fetch in turn makes it wait for the one before: create all of them, "
        "then await them together with asyncio.gather."
    )


async def test_fetch_all_takes_as_long_as_the_slowest_fetch(looptime, deadline, timeline) -> None:
    fetch, api = make_fetch({1: 3, 2: 1, 3: 2}, drawn=timeline)
    async with deadline(60, "fetch_all(fetch, [1, 2, 3])"):
        result = await fetch_all(fetch, [1, 2, 3])
    await check_finished(result, "fetch_all")
    check_fetched(api, "fetch_all")
    assert looptime == 3, (
        f"fetch_all took {float(looptime)} seconds of event-loop time. The fetches take 3, 1 "
        "and 2 seconds: run together they are all done after 3 seconds (the slowest one). "
        + (
            "6 seconds is the sum: you awaited one after another. Use asyncio.gather."
            if looptime == 6
            else "Some fetches waited for others: start them all, then await them together."
        )
    )


async def test_fetch_all_fetches_each_id_exactly_once(deadline) -> None:
    fetch, api = make_fetch({1: 3, 2: 1, 3: 2})
    async with deadline(60, "fetch_all(fetch, [1, 2, 3])"):
        result = await fetch_all(fetch, [1, 2, 3])
    await check_finished(result, "fetch_all")
    expected = ["fetch(1)", "fetch(2)", "fetch(3)"]
    assert Counter(api.calls) == Counter(expected), (
        f"fetch_all made these calls: {api.calls}; expected each of {expected} exactly once. "
        "Every call is a new request: call fetch once per id and keep what it returns."
    )


async def test_fetch_all_handles_many_ids_in_any_order(looptime, deadline) -> None:
    delays = {1: 4, 2: 9, 3: 1, 4: 7, 5: 2, 6: 10, 7: 3, 8: 8, 9: 5, 10: 6}
    ids = [6, 2, 9, 1, 10, 4, 7, 3, 8, 5]
    given = list(ids)
    expected = [f"item {item_id}" for item_id in ids]
    fetch, api = make_fetch(delays)
    async with deadline(60, f"fetch_all(fetch, {ids})"):
        result = await fetch_all(fetch, ids)
    await check_finished(result, "fetch_all")
    check_ids_untouched(ids, given)
    assert result == expected, (
        f"With ids {ids}, fetch_all returned {result!r}; expected {expected!r}: "
        "one result per id, in the order of ids (not the order the fetches finish in)."
    )
    assert Counter(api.calls) == Counter(f"fetch({item_id})" for item_id in given), (
        f"With 10 ids, fetch_all made these calls: {api.calls}; expected one per id."
    )
    assert api.peak_in_flight == 10, (
        f"Only {api.peak_in_flight} of the 10 fetches ran at the same time; all 10 should. "
        "Is part of the list fetched on its own, before or after the others?"
    )
    assert looptime == 10, (
        f"fetch_all took {float(looptime)} seconds for 10 fetches whose slowest takes 10 "
        "(and that add up to 55). All at once, it should take exactly 10."
    )


async def test_fetch_all_runs_a_big_batch_all_at_once(looptime, deadline) -> None:
    # 50 ids, given as a tuple; fetch(id) takes between 0.25 and 3.25 seconds.
    ids = tuple(range(100, 150))
    delays = {item_id: 0.25 * (1 + item_id * 7 % 13) for item_id in ids}
    slowest = max(delays.values())
    expected = [f"item {item_id}" for item_id in ids]
    fetch, api = make_fetch(delays)
    async with deadline(300, "fetch_all(fetch, <50 ids in a tuple>)"):
        result = await fetch_all(fetch, ids)
    await check_finished(result, "fetch_all")
    assert result == expected, (
        f"With 50 ids (100 to 149, in a tuple), fetch_all returned "
        f"{first_difference(result, expected)}. "
        "Expected one result per id, in the order of ids: ['item 100', 'item 101', ...]."
    )
    assert Counter(api.calls) == Counter(f"fetch({item_id})" for item_id in ids), (
        f"With 50 ids, fetch_all made {len(api.calls)} calls; expected one per id."
    )
    assert api.peak_in_flight == 50, (
        f"Only {api.peak_in_flight} of the 50 fetches ran at the same time; all 50 should. "
        "Don't await them one by one, cap how many run at once, or split the ids into "
        "batches: gather starts everything you give it."
    )
    assert looptime == slowest, (
        f"fetch_all took {float(looptime)} seconds for 50 fetches whose slowest takes "
        f"{slowest}. All at once, it should take exactly that: "
        "await them together, not in steps or rounds."
    )


async def test_fetch_all_keeps_duplicate_ids(looptime, deadline) -> None:
    ids = [3, 1, 3, 2, 1]
    given = list(ids)
    expected = ["item 3", "item 1", "item 3", "item 2", "item 1"]
    fetch, api = make_fetch({1: 1.5, 2: 0.5, 3: 1})
    async with deadline(60, f"fetch_all(fetch, {ids})"):
        result = await fetch_all(fetch, ids)
    await check_finished(result, "fetch_all")
    check_ids_untouched(ids, given)
    assert result == expected, (
        f"fetch_all(fetch, {given}) returned {result!r}; expected {expected!r}: one result "
        "for every id in the list, repeated ids included, in the order of ids."
    )
    calls = Counter(api.calls)
    assert all(1 <= calls[f"fetch({i})"] <= given.count(i) for i in set(given)), (
        f"fetch_all(fetch, {given}) made these calls: {api.calls}. Call fetch for the ids "
        "in the list (at most once per entry), nothing else."
    )
    assert looptime == 1.5, (
        f"fetch_all took {float(looptime)} seconds; the slowest fetch takes 1.5, so all at "
        "once it should take exactly 1.5."
    )


async def test_fetch_all_waits_only_for_its_own_fetches(looptime, deadline) -> None:
    fetch, api = make_fetch({1: 2, 2: 1})
    # Someone else's task shares the event loop; it has nothing to do with fetch_all.
    bystander = asyncio.create_task(asyncio.sleep(30), name="someone else's task")
    try:
        async with deadline(60, "fetch_all(fetch, [1, 2])"):
            result = await fetch_all(fetch, [1, 2])
        took = float(looptime)
        bystander_cancelled = bystander.cancelled()
    finally:
        bystander.cancel()
        await wait_until_done(bystander)
    await check_finished(result, "fetch_all")
    check_fetched(api, "fetch_all")
    assert result == ["item 1", "item 2"], (
        f"fetch_all(fetch, [1, 2]) returned {result!r}; expected ['item 1', 'item 2']."
    )
    assert took == 2, (
        f"fetch_all took {took} seconds; its fetches take 2 and 1 seconds, so all at once it "
        "should take exactly 2. "
        + (
            "Another, unrelated task was running on the event loop (it ends at 30 seconds): "
            "wait for your own fetches only, not for every task on the loop "
            "(asyncio.all_tasks())."
            if took >= 30
            else "Start both fetches, then await them together."
        )
    )
    assert not bystander_cancelled, (
        "fetch_all cancelled another task on the event loop, one that was not its own. "
        "Only touch the fetches you started: other code shares the loop."
    )


async def test_fetch_all_stops_every_fetch_when_it_is_cancelled(looptime, deadline) -> None:
    fetch, api = make_fetch({1: 5, 2: 9, 3: 7})
    task = asyncio.create_task(fetch_all(fetch, [1, 2, 3]))
    await asyncio.sleep(1)  # the fetches are under way
    if task.done():
        result = await task  # raises fetch_all's own error, if it had one
        await check_finished(result, "fetch_all")
        check_fetched(api, "fetch_all")
        pytest.fail(
            f"fetch_all returned {result!r} within 1 second, though its fetches take 5, 9 "
            "and 7 seconds. It should wait for them."
        )
    task.cancel()
    async with deadline(60, "fetch_all(fetch, [1, 2, 3]) after it was cancelled"):
        await wait_until_done(task)
    if not task.cancelled():
        result = await task  # raises fetch_all's own error, if it had one
        await check_finished(result, "fetch_all")
        pytest.fail(
            f"fetch_all was cancelled after 1 second, but it went on and returned {result!r}. "
            "Let CancelledError through (don't catch it), so the caller knows it stopped."
        )
    assert api.in_flight == 0, (
        f"fetch_all was cancelled after 1 second and ended, but {api.in_flight} of its "
        f"fetches were still running: {what_happened(api)}. When fetch_all is cancelled, every "
        "fetch it started must be cancelled too, and have stopped before fetch_all ends. "
        "gather and TaskGroup do that for the calls they wait for; tasks awaited one by "
        "one, or asyncio.wait, do not."
    )
    assert looptime == 1, (
        f"fetch_all was cancelled at 1 second but only ended at {float(looptime)}."
    )


async def test_fetch_all_of_no_ids_is_an_empty_list(deadline) -> None:
    fetch, api = make_fetch({})
    async with deadline(60, "fetch_all(fetch, [])"):
        result = await fetch_all(fetch, [])
    await check_finished(result, "fetch_all")
    assert result == [] and isinstance(result, list), (
        f"fetch_all(fetch, []) returned {result!r}; with no ids there is nothing to fetch, "
        "so it should return an empty list []."
    )
    assert api.calls == [], f"With no ids, fetch_all should not call fetch; it made {api.calls}."
    async with deadline(60, "fetch_all(fetch, ())"):
        result = await fetch_all(fetch, ())
    await check_finished(result, "fetch_all")
    assert result == [] and isinstance(result, list), (
        f"fetch_all(fetch, ()) returned {result!r}; an empty tuple of ids means nothing to "
        "fetch too, so it should return an empty list []."
    )


async def test_fetch_all_lets_a_failing_fetch_raise(deadline) -> None:
    # fetch(2) fails after 2 seconds; fetch(1) and fetch(3) are done by then.
    fetch, _ = make_fetch({1: 1, 2: 2, 3: 1}, broken=2)
    errors: list[BaseException] = []
    result = None
    try:
        async with deadline(60, "fetch_all(fetch, [1, 2, 3])"):
            result = await fetch_all(fetch, [1, 2, 3])
    except* LookupError as group:  # a plain LookupError, or one inside an ExceptionGroup
        errors.extend(group.exceptions)
    await check_finished(result, "fetch_all")
    assert errors, (
        "fetch(2) raised LookupError('item 2 not found'), but fetch_all hid it and returned "
        f"{result!r}. Let errors reach the caller: don't catch them, and don't pass "
        "return_exceptions=True to asyncio.gather."
    )


async def test_fetch_profile_returns_user_and_orders(deadline) -> None:
    fetch_user, fetch_orders, api = make_profile_fetches()
    async with deadline(60, "fetch_profile(fetch_user, fetch_orders, 7)"):
        result = await fetch_profile(fetch_user, fetch_orders, 7)
    await check_finished(result, "fetch_profile")
    assert isinstance(result, tuple), (
        f"fetch_profile returned a {type(result).__name__}: {result!r}. Return a tuple. "
        "asyncio.gather gives you a list; unpack it with "
        "`user, orders = await asyncio.gather(...)` and `return user, orders`."
    )
    assert result == ("user 7", ["order 7-1"]), (
        f"fetch_profile(..., 7) returned {result!r}; expected ('user 7', ['order 7-1']): "
        "the user first, then the orders, whichever call finishes first."
    )
    assert Counter(api.calls) == Counter(["fetch_user(7)", "fetch_orders(7)"]), (
        f"fetch_profile made these calls: {api.calls}; expected fetch_user(7) and "
        "fetch_orders(7), once each."
    )


async def test_fetch_profile_runs_both_fetches_at_once(looptime, deadline) -> None:
    fetch_user, fetch_orders, api = make_profile_fetches()
    async with deadline(60, "fetch_profile(fetch_user, fetch_orders, 7)"):
        result = await fetch_profile(fetch_user, fetch_orders, 7)
    await check_finished(result, "fetch_profile")
    assert api.peak_in_flight == 2, (
        f"fetch_user and fetch_orders did not run at the same time. What happened: "
        f"{what_happened(api)}. Start both, then await them together with asyncio.gather."
    )
    assert looptime == 3, (
        f"fetch_profile took {float(looptime)} seconds of event-loop time. fetch_user takes 3 "
        "and fetch_orders 2: together they are done after 3 seconds, the slower one; one "
        "after another they take 5."
    )


async def test_fetch_profile_takes_as_long_as_the_slower_fetch(looptime, deadline) -> None:
    fetch_user, fetch_orders, _ = make_profile_fetches(user_seconds=1.25, orders_seconds=0.5)
    async with deadline(60, "fetch_profile(fetch_user, fetch_orders, 8)"):
        result = await fetch_profile(fetch_user, fetch_orders, 8)
    await check_finished(result, "fetch_profile")
    assert result == ("user 8", ["order 8-1"]), (
        f"fetch_profile(..., 8) returned {result!r}; expected ('user 8', ['order 8-1'])."
    )
    assert looptime == 1.25, (
        f"fetch_profile took {float(looptime)} seconds of event-loop time. fetch_user takes "
        "1.25 and fetch_orders 0.5: together they are done after exactly 1.25 seconds. "
        "Await both together, not in steps."
    )


@pytest.mark.parametrize("broken", ["user", "orders"])
async def test_fetch_profile_lets_a_failing_fetch_raise(broken: str, deadline) -> None:
    fetch_user, fetch_orders, _ = make_profile_fetches(broken=broken)
    failing = "fetch_user" if broken == "user" else "fetch_orders"
    raised: list[BaseException] = []
    result = None
    try:
        async with deadline(60, f"fetch_profile(...) with a failing {failing}"):
            result = await fetch_profile(fetch_user, fetch_orders, 7)
    except* ProfileDown as group:  # the error itself, or inside an ExceptionGroup
        raised.extend(group.exceptions)
    await asyncio.sleep(3)  # let a fetch that is still running finish before the test ends
    if not raised:
        await check_finished(result, "fetch_profile")
    assert raised, (
        f"{failing}(7) raised ProfileDown, but fetch_profile returned {result!r} instead of "
        "raising it. Without both parts there is no profile: let the error reach the caller. "
        "Don't catch it, don't return it in place of a value, and don't pass "
        "return_exceptions=True to asyncio.gather."
    )
    assert all(isinstance(e, ProfileDown) for e in raised), (
        f"fetch_profile raised {raised!r}; expected the ProfileDown error of {failing}."
    )
