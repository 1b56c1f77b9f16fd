"""Kata 13 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import aclosing
from typing import Any

import pytest
from pages import Session, connected, first_match, paginate, stream_items

CONNECT_DELAY = 0.5  # virtual seconds that connect() takes
CLOSE_DELAY = 0.25  # and close(), after a few turns of the event loop


class PageError(Exception):
    """What the fake API raises for a page that is meant to fail."""


class BlockError(Exception):
    """What the body of an `async with` block (or a consumer's loop) raises in these tests."""


class ConnectionClosedError(Exception):
    """What a fake connection raises when it is used after close()."""


class Api:
    """A fake paginated API: page n holds pages[n - 1] and takes delays[n - 1] seconds.

    Every page after the last one is empty. It writes down which pages were asked for
    and when (in virtual seconds since the Api was made), how many fetches ran at once,
    and every connection it handed out.
    """

    def __init__(
        self,
        pages: Sequence[Sequence[str]],
        delays: Sequence[float] = (),
        failing_page: int | None = None,
    ) -> None:
        self.pages = pages
        self.delays = delays
        self.failing_page = failing_page
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.fetches: list[tuple[int, float]] = []  # (page number, when it was asked for)
        self.in_flight = 0
        self.peak = 0
        self.connections: list[FakeConnection] = []

    def now(self) -> float:
        return self.loop.time() - self.t0

    def delay(self, number: int) -> float:
        return self.delays[number - 1] if number <= len(self.delays) else 0.25

    @property
    def fetched(self) -> list[int]:
        return [number for number, _ in self.fetches]

    async def fetch_page(self, number: int) -> Sequence[str]:
        self.fetches.append((number, self.now()))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay(number))
        finally:
            self.in_flight -= 1
        if number == self.failing_page:
            raise PageError(f"page {number} is broken")
        return self.pages[number - 1] if 1 <= number <= len(self.pages) else ()

    async def connect(self) -> FakeConnection:
        await asyncio.sleep(CONNECT_DELAY)
        conn = FakeConnection(self)
        self.connections.append(conn)
        return conn


class FakeConnection:
    """A connection to the fake API. close() takes a few loop turns and a quarter second."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.close_calls = 0
        self.closed = False
        self.used_after_close: list[str] = []

    async def fetch_page(self, number: int) -> Sequence[str]:
        if self.close_calls:
            self.used_after_close.append(f"fetch_page({number})")
            raise ConnectionClosedError(
                f"fetch_page({number}) was called on a connection that was already closed. "
                "Keep everything that fetches inside the block that holds the connection open."
            )
        return await self.api.fetch_page(number)

    async def close(self) -> None:
        self.close_calls += 1
        for _ in range(3):
            await asyncio.sleep(0)
        await asyncio.sleep(CLOSE_DELAY)
        self.closed = True


def numbered_pages(count: int, size: int) -> list[tuple[str, ...]]:
    return [tuple(f"p{page}-{i}" for i in range(1, size + 1)) for page in range(1, count + 1)]


def thirty_pages() -> tuple[list[Sequence[str]], list[float]]:
    """30 pages of 1 to 5 items and their delays.

    Lists and tuples; some items repeated; and some items are "", which is false in an
    `if` but still an item (page 12 holds nothing else).
    """
    pages: list[Sequence[str]] = []
    for page in range(1, 31):
        items = [f"p{page}-{i}" for i in range(1, page % 4 + 2)]
        if page % 7 == 0:
            items.append(items[0])  # the same item twice on one page
        if page == 12:
            items = [""]
        elif page % 9 == 0:
            items.insert(1, "")
        pages.append(tuple(items) if page % 2 else items)
    delays = [(0.25, 1.5, 0.75, 0.5)[page % 4] for page in range(30)]
    return pages, delays


def arrival_times(pages: Sequence[Sequence[str]], delays: Sequence[float], start: float) -> list:
    """When each item should reach a consumer that asks for the next one at once."""
    times, clock = [], start
    for page, delay in zip(pages, delays, strict=True):
        clock += delay
        times.extend([clock] * len(page))
    return times


def check_async_iterator(stream: object, call: str) -> None:
    """Fail with a clear message if `stream` is not something `async for` can read."""
    if inspect.iscoroutine(stream):
        stream.close()  # tidy up, so Python does not warn about a coroutine never awaited
        pytest.fail(
            f"{call} gave back a coroutine, which `async for` cannot read. An `async def` "
            "that uses `yield` is an async generator; keep yielding the items one by one "
            "instead of returning them."
        )
    assert hasattr(stream, "__anext__"), (
        f"{call} gave back {stream!r}, which `async for` cannot read; it should be an async "
        "generator (an `async def` with `yield` in it)."
    )


def check_closed_once(conn: FakeConnection, when: str, fix: str) -> None:
    """The connection was closed exactly once, that close has finished, and it was not reused."""
    if conn.close_calls == 0:
        pytest.fail(f"{when}, the connection was still open. {fix}")
    if not conn.closed:
        pytest.fail(
            f"{when}, close() had been called but had not finished yet. Await it to the end "
            "(`await conn.close()`) before you go on; starting it as a task, or awaiting only "
            "part of it, does not wait for the connection to be closed."
        )
    assert conn.close_calls == 1, (
        f"{when}, the connection had been closed {conn.close_calls} times. Close it exactly "
        "once: with `finally` (or an `async with`) there is one place that closes it, and "
        "no second close on the error or cancel path."
    )
    assert not conn.used_after_close, (
        f"The connection was used after it was closed: {', '.join(conn.used_after_close)}. "
        "Keep everything that fetches inside the block that holds the connection open."
    )


async def page_error_from(run: Awaitable[object], what: str) -> None:
    """Await `run`, which meets a failing page; fail in plain words if the error got lost."""
    try:
        await run
    except PageError:
        return
    pytest.fail(
        f"A page failed with PageError, but {what} did not raise it: the error was swallowed "
        "(or taken for the end of the pages). Let errors from fetch_page reach the consumer; "
        "a finally block cleans up without hiding them."
    )


async def run_until_cancelled(task: asyncio.Task[Any], deadline, what: str, swallowed: str):
    """Cancel a task that is still busy, wait for it to end, and check it ended cancelled."""
    if task.done():
        task.result()  # the learner's own error (a TODO's NotImplementedError too) comes out
        pytest.fail(f"{what} finished before the test could cancel it; it should still be busy.")
    task.cancel()
    async with deadline(60, f"{what}, after it was cancelled"):
        await asyncio.wait([task])
    if not task.cancelled():
        task.result()  # an error other than the cancel comes out here as it is
        pytest.fail(swallowed)


async def test_paginate_yields_each_item_as_soon_as_its_page_arrives(deadline) -> None:
    pages, delays = thirty_pages()
    expected = [item for page in pages for item in page]
    expected_times = arrival_times(pages, delays, start=0.0)
    api = Api(pages, delays)
    received: list[tuple[str, float]] = []
    async with deadline(120, "reading every item of paginate(fetch_page)"):
        stream = paginate(api.fetch_page)
        check_async_iterator(stream, "paginate(fetch_page)")
        async for item in stream:
            received.append((item, api.now()))
    items = [item for item, _ in received]
    assert items == expected, (
        f"paginate yielded {len(items)} items; the 30 pages hold {len(expected)}. Yield every "
        "item of every page, in page order, keeping repeated items, until the first empty page."
        + (f" The first item that differs is #{_first_difference(items, expected) + 1}.")
    )
    first_at = received[0][1]
    assert first_at == pytest.approx(delays[0]), (
        f"The first item reached the consumer at {first_at:g} s, but page 1 had arrived at "
        f"{delays[0]:g} s."
        + (
            " That is when the last page arrived: paginate collected every page before "
            "yielding anything. Yield each item as soon as its page is there."
            if first_at >= sum(delays) - 1e-6
            else " Yield page 1's items before you fetch page 2."
        )
    )
    for (item, at), due in zip(received, expected_times, strict=True):
        assert at == pytest.approx(due), (
            f"{item} reached the consumer at {at:g} s, but its page had arrived at {due:g} s. "
            "Yield each page's items as soon as the page is there, before fetching the next."
        )
    assert api.fetched == list(range(1, 32)), (
        f"paginate asked for pages {api.fetched}; expected pages 1 to 31, one after the other: "
        "page 31 is the first empty one, so stop there and fetch nothing after it."
    )
    assert api.peak == 1, (
        f"{api.peak} pages were being fetched at the same time. Fetch one page at a time, "
        "only when the consumer needs its items."
    )


def _first_difference(got: list[str], expected: list[str]) -> int:
    return next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
        min(len(got), len(expected)),
    )


async def test_paginate_fetches_the_next_page_only_when_the_consumer_asks(deadline) -> None:
    pages = numbered_pages(12, 3)
    api = Api(pages, [0.5] * 12)
    asked: list[float] = []  # when the consumer asked for item 1, 2, 3, ...
    received: list[str] = []
    async with deadline(120, "reading 7 items from paginate(fetch_page), slowly"):
        stream = paginate(api.fetch_page)
        check_async_iterator(stream, "paginate(fetch_page)")
        async with aclosing(stream):
            while len(received) < 7:
                asked.append(api.now())
                received.append(await anext(stream))
                await asyncio.sleep(1.25)  # the consumer's own work on each item
    assert received == [*pages[0], *pages[1], pages[2][0]], (
        f"The first 7 items were {received}; expected the 3 items of page 1, the 3 of page 2 "
        "and the first of page 3."
    )
    for number, item_index in ((1, 0), (2, 3), (3, 6)):
        when = dict(api.fetches).get(number)
        due = asked[item_index]
        assert when is not None and when >= due - 1e-6, (
            f"Page {number} was fetched at {when:g} s, but the consumer only asked for its "
            f"first item at {due:g} s. Be lazy: fetch a page when the consumer asks for an "
            "item you don't have yet, not ahead of time (no prefetching, no background task)."
            if when is not None
            else f"Page {number} was never fetched, but the consumer asked for its items."
        )
    assert api.fetched == [1, 2, 3], (
        f"The consumer stopped after 7 items (the first of page 3), but paginate asked for "
        f"pages {api.fetched}. A consumer that stops early must not cause any more fetches: "
        "fetch the next page only when its first item is asked for."
    )
    assert api.peak == 1, f"{api.peak} pages were fetched at the same time; fetch one at a time."


async def test_paginate_with_no_pages_or_a_failing_page(deadline) -> None:
    empty = Api([])
    async with deadline(60, "paginate over an API with no items"):
        stream = paginate(empty.fetch_page)
        check_async_iterator(stream, "paginate(fetch_page)")
        items = [item async for item in stream]
    assert items == [], f"Page 1 was empty, but paginate yielded {items!r}."
    assert empty.fetched == [1], (
        f"Page 1 was empty, so paginate should ask for page 1 only; it asked for {empty.fetched}."
    )

    pages = numbered_pages(5, 2)
    broken = Api(pages, [0.75] * 5, failing_page=3)
    received: list[str] = []

    async def read_all(stream: AsyncIterator[str]) -> None:
        async for item in stream:
            received.append(item)

    async with deadline(60, "paginate over an API whose page 3 fails"):
        await page_error_from(read_all(paginate(broken.fetch_page)), "paginate")
    assert received == [*pages[0], *pages[1]], (
        f"Before page 3 failed the consumer got {received}; it should have every item of "
        "pages 1 and 2 by then."
    )
    assert broken.fetched == [1, 2, 3], (
        f"Page 3 failed, and paginate asked for pages {broken.fetched}. Let the error reach "
        "the consumer: don't retry the page or skip past it."
    )


async def test_connected_opens_a_connection_and_closes_it_after_the_block(deadline) -> None:
    api = Api(numbered_pages(2, 2))
    seen: list[FakeConnection] = []
    for use in (1, 2):
        async with deadline(60, f"`async with connected(connect)` (use {use})"):
            async with connected(api.connect) as conn:
                assert isinstance(conn, FakeConnection), (
                    f"`async with connected(connect) as conn` gave conn = {conn!r}; it should be "
                    "the connection that `await connect()` returned."
                )
                assert conn.close_calls == 0, "The connection was closed before the block ran."
                assert await conn.fetch_page(1) == ("p1-1", "p1-2")
                seen.append(conn)
        check_closed_once(
            conn,
            f"When `async with connected(connect)` (use {use}) ended",
            "Close it on the way out, after the `yield`, and await close() to the end: "
            "`finally: await conn.close()`.",
        )
    assert len(api.connections) == 2 and seen[0] is not seen[1], (
        f"Two `async with connected(connect)` blocks made {len(api.connections)} connection(s). "
        "Each call of connected(connect) should await connect() for a connection of its own."
    )

    async with deadline(60, "one `async with connected(connect)` inside another"):
        async with connected(api.connect) as outer:
            async with connected(api.connect) as inner:
                assert inner is not outer, (
                    "Two `async with connected(connect)` blocks, one inside the other, got the "
                    "same connection. Each call should open its own: keep it in a local "
                    "variable of the generator, not in a global."
                )
            check_closed_once(
                inner,
                "When the inner of two nested `async with connected(connect)` blocks ended",
                "Each block closes its own connection.",
            )
            assert not outer.close_calls, (
                "Closing the inner of two nested `async with connected(connect)` blocks closed "
                "the outer block's connection too. Each block closes only its own connection."
            )
    check_closed_once(
        outer,
        "When the outer of two nested `async with connected(connect)` blocks ended",
        "Each block closes its own connection (keep it in a local variable, not a global).",
    )


async def test_connected_closes_on_error_and_on_cancel_and_hides_neither(deadline) -> None:
    api = Api(numbered_pages(2, 2))
    error = BlockError("the block failed")
    caught: BlockError | None = None
    try:
        async with deadline(60, "`async with connected(connect)` whose block raises"):
            async with connected(api.connect):
                raise error
    except BlockError as e:
        caught = e
    if caught is None:
        pytest.fail(
            "The block inside `async with connected(connect)` raised an error, but it never "
            "reached the caller: connected swallowed it. Don't catch it at the `yield`, or "
            "raise it again; cleanup in `finally` lets it through on its own."
        )
    assert caught is error, (
        f"The block raised {error!r}, but the caller got {caught!r}. Let the block's own "
        "error through unchanged."
    )
    check_closed_once(
        api.connections[0],
        "When the block raised",
        "Cleanup that only runs after the `yield` is skipped when the block raises: put it "
        "in `finally`.",
    )

    async def use_it() -> None:
        async with connected(api.connect):
            await asyncio.sleep(10)

    task = asyncio.create_task(use_it())
    await asyncio.sleep(2)  # connected after 0.5 s; now it waits inside the block
    await run_until_cancelled(
        task,
        deadline,
        "A task inside `async with connected(connect)`",
        "The task was cancelled inside `async with connected(connect)`, but it did not end "
        "cancelled: the CancelledError was swallowed. Don't catch it, or raise it again, so "
        "the cancel reaches the task.",
    )
    check_closed_once(
        api.connections[1],
        "When the task was cancelled inside the block",
        "A cancel raises CancelledError, which is not an Exception, so `except Exception:` "
        "misses it: close the connection in `finally`.",
    )


async def test_session_opens_a_fresh_connection_for_every_block(deadline) -> None:
    api = Api(numbered_pages(2, 2))
    session = Session(api.connect)
    await asyncio.sleep(1)
    assert api.connections == [], (
        "Session(connect) connected before any `async with` block. Connect in __aenter__, "
        "each time a block starts."
    )
    seen: list[FakeConnection] = []
    for use in (1, 2, 3):
        async with deadline(60, f"`async with session` (use {use})"):
            async with session as conn:
                assert isinstance(conn, FakeConnection), (
                    f"`async with session as conn` gave conn = {conn!r}; __aenter__ should "
                    "return the connection that `await connect()` gave."
                )
                assert not conn.close_calls, (
                    f"Use {use} of the same Session got a connection that was already "
                    "closed. Every block needs a fresh one: await connect() in every "
                    "__aenter__, don't keep the first connection for later blocks."
                )
                assert await conn.fetch_page(2) == ("p2-1", "p2-2")
                seen.append(conn)
        check_closed_once(
            conn,
            f"When `async with session` (use {use}) ended",
            "__aexit__ should await close() on this block's connection, every time the "
            "Session is used (no flag that makes only the first use close it).",
        )
    assert len(api.connections) == 3 and len({id(conn) for conn in seen}) == 3, (
        f"Three `async with session` blocks made {len(api.connections)} connection(s); "
        "expected 3, one per block."
    )


async def test_session_closes_on_error_and_on_cancel_and_can_be_used_again(deadline) -> None:
    api = Api(numbered_pages(2, 2))
    session = Session(api.connect)
    error = BlockError("the block failed")
    caught: BlockError | None = None
    try:
        async with deadline(60, "`async with session` whose block raises"):
            async with session:
                raise error
    except BlockError as e:
        caught = e
    if caught is None:
        pytest.fail(
            "The block inside `async with session` raised an error, but it never reached the "
            "caller. A true value returned from __aexit__ swallows the block's error: return "
            "nothing (None)."
        )
    assert caught is error, (
        f"The block raised {error!r}, but the caller got {caught!r}. Let the block's own "
        "error through unchanged: __aexit__ returns None and raises nothing of its own."
    )
    check_closed_once(
        api.connections[0],
        "When the block raised",
        "__aexit__ runs however the block ends: close the connection there every time, not "
        "only when exc_type is None.",
    )

    async def use_it() -> None:
        async with session:
            await asyncio.sleep(10)

    task = asyncio.create_task(use_it())
    await asyncio.sleep(2)  # connected after 0.5 s; now it waits inside the block
    await run_until_cancelled(
        task,
        deadline,
        "A task inside `async with session`",
        "The task was cancelled inside `async with session`, but it did not end cancelled: "
        "__aexit__ swallowed the CancelledError (a true return value does that). Return None.",
    )
    assert len(api.connections) == 2, (
        f"After a failed block, the next `async with session` made "
        f"{len(api.connections) - 1} new connection(s); it should make one. Every block "
        "awaits connect() for a fresh connection, and __aexit__ forgets the old one however "
        "the block ended."
    )
    check_closed_once(
        api.connections[1],
        "When the task was cancelled inside the block",
        "__aexit__ runs on a cancel too: close the connection there every time.",
    )

    async with deadline(60, "`async with session` after a failed and a cancelled block"):
        async with session as conn:
            assert conn is api.connections[2] and not conn.close_calls, (
                "After a failed and a cancelled block, `async with session` did not give a "
                "fresh open connection. Forget the closed one in __aexit__."
            )
    check_closed_once(
        api.connections[2], "When the third block ended", "__aexit__ should close it."
    )


async def test_stream_items_streams_every_item_then_closes_the_connection(deadline) -> None:
    pages, delays = thirty_pages()
    expected = [item for page in pages for item in page]
    expected_times = arrival_times(pages, delays, start=CONNECT_DELAY)
    api = Api(pages, delays)
    received: list[tuple[str, float]] = []
    async with deadline(120, "reading every item of stream_items(connect)"):
        stream = stream_items(api.connect)
        check_async_iterator(stream, "stream_items(connect)")
        async for item in stream:
            received.append((item, api.now()))
        assert len(api.connections) == 1, (
            f"stream_items made {len(api.connections)} connections; one is enough."
        )
        check_closed_once(
            api.connections[0],
            "When the `async for` over stream_items ended",
            "After the last item, stream_items should close the connection before it stops "
            "(an `async with` around the loop does that).",
        )
    items = [item for item, _ in received]
    assert items == expected, (
        f"stream_items yielded {len(items)} items; the 30 pages hold {len(expected)}. Yield "
        "every item of every page, in order, until the first empty page."
    )
    first_at = received[0][1]
    assert first_at == pytest.approx(expected_times[0]), (
        f"The first item reached the consumer at {first_at:g} s, but it was there at "
        f"{expected_times[0]:g} s (connect, then page 1)."
        + (
            " stream_items collected every page before yielding anything: stream them."
            if first_at >= expected_times[-1] - 1e-6
            else " Yield each item as soon as its page has arrived."
        )
    )
    for (item, at), due in zip(received, expected_times, strict=True):
        assert at == pytest.approx(due), (
            f"{item} reached the consumer at {at:g} s, but its page had arrived at {due:g} s."
        )
    assert api.fetched == list(range(1, 32)) and api.peak == 1, (
        f"stream_items asked for pages {api.fetched}, with up to {api.peak} at once; expected "
        "pages 1 to 31 one at a time (31 is the first empty one)."
    )

    empty = Api([])
    async with deadline(60, "stream_items over an API with no items"):
        stream = stream_items(empty.connect)
        check_async_iterator(stream, "stream_items(connect)")
        items = [item async for item in stream]
    assert items == [], f"The API had no items, but stream_items yielded {items!r}."
    assert len(empty.connections) == 1
    check_closed_once(
        empty.connections[0],
        "When stream_items over an empty API ended",
        "Close the connection even when there was nothing to yield.",
    )


async def test_stream_items_closes_the_connection_when_the_consumer_stops_early(
    deadline,
) -> None:
    pages = numbered_pages(30, 3)
    api = Api(pages, [0.75] * 30)
    received: list[str] = []
    async with deadline(60, "reading 4 items of stream_items(connect), then break"):
        stream = stream_items(api.connect)
        check_async_iterator(stream, "stream_items(connect)")
        async with aclosing(stream) as items:
            async for item in items:
                received.append(item)
                if len(received) == 4:
                    break
    assert received == [*pages[0], pages[1][0]], f"The first 4 items were {received}."
    check_closed_once(
        api.connections[0],
        "When the consumer broke out after 4 items and closed stream_items (aclosing)",
        "aclose() raises GeneratorExit at the paused `yield`; GeneratorExit is not an "
        "Exception and code after the loop never runs. Close the connection in `finally` "
        "(or hold it in an `async with`).",
    )
    assert api.fetched == [1, 2], (
        f"The consumer stopped at the first item of page 2, but pages {api.fetched} were "
        "fetched. Fetch a page only when its items are asked for."
    )

    failing = Api(pages, [0.75] * 30)
    error = BlockError("the consumer's loop failed")
    caught: BlockError | None = None
    try:
        async with deadline(60, "a consumer whose loop over stream_items raises"):
            async with aclosing(stream_items(failing.connect)) as items:
                async for item in items:
                    if item == "p2-2":
                        raise error
    except BlockError as e:
        caught = e
    assert caught is error, (
        f"The consumer's loop raised {error!r}, but it came out as {caught!r}. Closing the "
        "generator must not hide or replace the consumer's error."
    )
    check_closed_once(
        failing.connections[0],
        "When the consumer's loop raised and closed stream_items (aclosing)",
        "Close the connection in `finally` (or hold it in an `async with`), so closing the "
        "generator early closes it too.",
    )


async def test_stream_items_closes_the_connection_when_cancelled_or_a_page_fails(
    deadline,
) -> None:
    pages = numbered_pages(30, 3)
    api = Api(pages, [0.75] * 30)

    async def read_all(connect) -> None:
        async for _ in stream_items(connect):
            pass

    task = asyncio.create_task(read_all(api.connect))
    await asyncio.sleep(CONNECT_DELAY + 0.75 * 4 + 0.25)  # it is waiting for page 5
    await run_until_cancelled(
        task,
        deadline,
        "A task reading stream_items",
        "The task was cancelled while stream_items was fetching a page, but it did not end "
        "cancelled: the CancelledError was swallowed (the loop just stopped). Let it go on.",
    )
    check_closed_once(
        api.connections[0],
        "When the task was cancelled while stream_items waited for a page",
        "A cancel raises CancelledError, which is not an Exception: close the connection in "
        "`finally` (or hold it in an `async with`).",
    )

    slow = Api(pages, [0.75] * 30)
    received: list[str] = []

    async def read_slowly(connect) -> None:
        async with aclosing(stream_items(connect)) as items:
            async for item in items:
                received.append(item)
                await asyncio.sleep(10)  # the consumer's own slow work

    task = asyncio.create_task(read_slowly(slow.connect))
    await asyncio.sleep(5)  # the consumer is busy with the first item
    await run_until_cancelled(
        task,
        deadline,
        "A task reading stream_items slowly",
        "The task was cancelled while it worked on an item, but it did not end cancelled.",
    )
    assert received == ["p1-1"], (
        f"By the time it was cancelled (at 5 s) the consumer had got {received}; expected "
        "['p1-1'], the first item, which was there at 1.25 s. Yield each item as soon as its "
        "page has arrived."
    )
    check_closed_once(
        slow.connections[0],
        "When a consumer was cancelled during its own work and closed stream_items (aclosing)",
        "Closing the generator raises GeneratorExit at its paused `yield`: close the "
        "connection in `finally` (or hold it in an `async with`).",
    )

    broken = Api(pages, [0.75] * 30, failing_page=3)
    async with deadline(60, "stream_items over an API whose page 3 fails"):
        await page_error_from(read_all(broken.connect), "stream_items")
    check_closed_once(
        broken.connections[0],
        "When fetching page 3 failed",
        "An error on the way must close the connection too: close it in `finally`.",
    )


async def test_first_match_returns_the_first_match_and_has_closed_the_connection(
    deadline,
) -> None:
    pages = numbered_pages(30, 4)
    api = Api(pages, [0.75] * 30)
    async with deadline(60, "first_match(connect, an item ending in '-3' other than 'p1-3')"):
        found = await first_match(api.connect, lambda item: item.endswith("-3") and item != "p1-3")
    assert found == "p2-3", (
        f"first_match returned {found!r}; the first item that matches is 'p2-3' "
        "(p3-3, p4-3, ... match as well, but come later)."
    )
    check_closed_once(
        api.connections[0],
        "When first_match returned",
        "Leaving `async for` early (return or break) does not close the generator: the "
        "event loop closes it only later, after first_match has returned. Wrap the stream in "
        "`contextlib.aclosing(...)` so it is closed by the end of your block.",
    )
    assert api.fetched == [1, 2], (
        f"The match was on page 2, but first_match fetched pages {api.fetched}. Stop as soon "
        "as you have it."
    )
    returned_at, due = api.now(), CONNECT_DELAY + 0.75 * 2 + CLOSE_DELAY
    assert returned_at == pytest.approx(due), (
        f"first_match returned at {returned_at:g} s; it should return at {due:g} s: connect "
        f"({CONNECT_DELAY:g} s), pages 1 and 2 (0.75 s each), then close ({CLOSE_DELAY:g} s). "
        "Don't wait for the event loop to close the stream: close it yourself (aclosing)."
    )

    nothing = Api(pages, [0.75] * 30)
    async with deadline(60, "first_match(connect, nothing matches)"):
        found = await first_match(nothing.connect, lambda item: item == "p31-1")
    assert found is None, f"No item matched, but first_match returned {found!r}; expected None."
    assert nothing.fetched == list(range(1, 32)), (
        f"No item matched, so every page up to the first empty one (31) has to be read; "
        f"first_match fetched {nothing.fetched}."
    )
    check_closed_once(
        nothing.connections[0],
        "When first_match found nothing and returned None",
        "The connection must be closed once the stream has ended.",
    )

    empty = Api([])
    async with deadline(60, "first_match over an API with no items"):
        found = await first_match(empty.connect, lambda item: True)
    assert found is None, f"The API had no items, but first_match returned {found!r}."
    check_closed_once(empty.connections[0], "When first_match returned None", "Close it.")

    pages_with_blanks, delays = thirty_pages()
    blanks = Api(pages_with_blanks, delays)
    async with deadline(60, "first_match(connect, the item is the empty string '')"):
        found = await first_match(blanks.connect, lambda item: item == "")
    assert found == "" and found is not None, (
        f"The first match was the empty string '' (on page 9), but first_match returned "
        f"{found!r}. An item can be false in an `if` and still be the match: return the "
        "item itself, and None only when nothing matched."
    )
    check_closed_once(blanks.connections[0], "When first_match returned ''", "Close it.")


async def test_first_match_closes_the_connection_on_error_and_on_cancel(deadline) -> None:
    pages = numbered_pages(30, 4)
    broken = Api(pages, [0.75] * 30, failing_page=2)
    async with deadline(60, "first_match over an API whose page 2 fails"):
        await page_error_from(
            first_match(broken.connect, lambda item: item == "p5-1"), "first_match"
        )
    check_closed_once(
        broken.connections[0],
        "When first_match raised the error of page 2",
        "An error on the way must close the connection too.",
    )

    picky = Api(pages, [0.75] * 30)
    error = BlockError("the predicate failed")

    def predicate(item: str) -> bool:
        if item == "p2-2":
            raise error
        return False

    caught: BlockError | None = None
    try:
        async with deadline(60, "first_match with a predicate that raises"):
            await first_match(picky.connect, predicate)
    except BlockError as e:
        caught = e
    assert caught is error, (
        f"The predicate raised {error!r}, but first_match gave {caught!r}. Let it through."
    )
    check_closed_once(
        picky.connections[0],
        "When the predicate raised inside first_match",
        "Leaving `async for` with an error does not close the generator at once: the event "
        "loop does that later. Wrap the stream in `contextlib.aclosing(...)`.",
    )

    api = Api(pages, [0.75] * 30)
    task = asyncio.create_task(first_match(api.connect, lambda item: item == "p9-1"))
    await asyncio.sleep(CONNECT_DELAY + 0.75 * 2 + 0.25)  # it is waiting for page 3
    await run_until_cancelled(
        task,
        deadline,
        "A task running first_match",
        "The task running first_match was cancelled, but it did not end cancelled: the "
        "CancelledError was swallowed. Let it go on.",
    )
    check_closed_once(
        api.connections[0],
        "When the task running first_match was cancelled",
        "A cancel must close the connection too.",
    )
