"""Kata 03 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from typing import Any

import pytest
from gather import fetch_all, fetch_profile


class FakeApi:
    """A fake slow service that records how it was called.

    It keeps every call it got, a timeline of starts and finishes, and the largest
    number of calls that were running at the same moment.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.timeline: list[str] = []
        self.in_flight = 0
        self.peak_in_flight = 0

    async def call(self, name: str, seconds: float, value: Any) -> Any:
        self.calls.append(name)
        self.timeline.append(f"start {name}")
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.in_flight -= 1
        self.timeline.append(f"finish {name}")
        return value


def make_fetch(delays: dict[int, float], broken: int | None = None):
    """fetch(id) takes delays[id] seconds and returns "item <id>"; fetch(broken) raises."""
    api = FakeApi()

    async def fetch(item_id: int) -> str:
        if item_id not in delays:
            pytest.fail(f"fetch was called with {item_id!r}, which is not one of the ids.")
        value = await api.call(f"fetch({item_id})", delays[item_id], f"item {item_id}")
        if item_id == broken:
            raise LookupError(f"item {item_id} not found")
        return value

    return fetch, api


def make_profile_fetches():
    """fetch_user(id) takes 3 seconds, fetch_orders(id) 2: the orders arrive first."""
    api = FakeApi()

    async def fetch_user(user_id: int) -> str:
        return await api.call(f"fetch_user({user_id})", 3, f"user {user_id}")

    async def fetch_orders(user_id: int) -> list[str]:
        return await api.call(f"fetch_orders({user_id})", 2, [f"order {user_id}-1"])

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


def timeline(api: FakeApi) -> str:
    return ", ".join(api.timeline) or "nothing was called"


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


async def test_fetch_all_runs_every_fetch_at_once(deadline) -> None:
    fetch, api = make_fetch({1: 3, 2: 1, 3: 2})
    async with deadline(60, "fetch_all(fetch, [1, 2, 3])"):
        result = await fetch_all(fetch, [1, 2, 3])
    await check_finished(result, "fetch_all")
    assert api.peak_in_flight <= 3, (
        f"{api.peak_in_flight} fetches were running at once for just 3 ids, so some ids were "
        f"fetched more than once. What happened: {timeline(api)}. Call fetch once per id."
    )
    assert api.peak_in_flight == 3, (
        f"At most {api.peak_in_flight} of the 3 fetches were running at the same time; all "
        f"3 should start before any of them finishes. What happened: {timeline(api)}. "
        "Awaiting each fetch in turn makes it wait for the one before: create all of them, "
        "then await them together with asyncio.gather."
    )


async def test_fetch_all_takes_as_long_as_the_slowest_fetch(looptime, deadline) -> None:
    fetch, _ = make_fetch({1: 3, 2: 1, 3: 2})
    async with deadline(60, "fetch_all(fetch, [1, 2, 3])"):
        result = await fetch_all(fetch, [1, 2, 3])
    await check_finished(result, "fetch_all")
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
    fetch, api = make_fetch(delays)
    async with deadline(60, f"fetch_all(fetch, {ids})"):
        result = await fetch_all(fetch, ids)
    await check_finished(result, "fetch_all")
    expected = [f"item {item_id}" for item_id in ids]
    assert result == expected, (
        f"With ids {ids}, fetch_all returned {result!r}; expected {expected!r}: "
        "one result per id, in the order of ids (not the order the fetches finish in)."
    )
    assert Counter(api.calls) == Counter(f"fetch({item_id})" for item_id in ids), (
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
        f"{timeline(api)}. Start both, then await them together with asyncio.gather."
    )
    assert looptime == 3, (
        f"fetch_profile took {float(looptime)} seconds of event-loop time. fetch_user takes 3 "
        "and fetch_orders 2: together they are done after 3 seconds, the slower one; one "
        "after another they take 5."
    )
