"""Kata 16 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import sysconfig
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any

import fastapi.dependencies.utils
import httpx
import pytest
from deps_api import app, get_pool
from fastapi.exceptions import FastAPIError

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]

TOKENS = {"token-ada": "ada", "token-bob": "bob"}
BROKEN_ITEM = 13  # reading this item fails with DatabaseError


class DatabaseError(Exception):
    """What the fake database raises when a read fails."""


class SessionClosedError(Exception):
    """A session was used after it had been closed."""


def make_items(count: int) -> list[dict[str, Any]]:
    """Items 1..count; every third one belongs to bob, the others to ada."""
    return [
        {"id": i, "name": f"item {i}", "owner": "bob" if i % 3 == 0 else "ada"}
        for i in range(1, count + 1)
    ]


class FakeSession:
    """A database session that records what was done with it.

    Every read takes some event-loop time and fails if the session is closed, before or
    while it reads. Closing takes a few turns of the event loop, like a real connection
    going back to its pool.
    """

    def __init__(self, pool: FakePool, number: int) -> None:
        self.pool = pool
        self.name = f"session {number}"
        self.reads: list[str] = []
        self.close_calls = 0
        self.closed = False

    def _check_open(self, what: str) -> None:
        if self.close_calls:
            self.pool.used_after_close.append(self)
            raise SessionClosedError(f"{what} was called on {self.name} after it was closed")

    async def _read(self, what: str, seconds: float) -> None:
        self._check_open(what)
        self.reads.append(what)
        self.pool.timeline.append(f"{self.name}: {what}")
        await asyncio.sleep(seconds)
        self._check_open(what)

    async def get_item(self, item_id: int) -> dict[str, Any] | None:
        await self._read(f"get_item({item_id})", 0.5)
        if item_id == BROKEN_ITEM:
            raise DatabaseError(f"item {item_id}: the row is corrupt")
        return next((dict(item) for item in self.pool.items if item["id"] == item_id), None)

    async def list_items(
        self, offset: int, limit: int, owner: str | None = None
    ) -> list[dict[str, Any]]:
        await self._read(f"list_items({offset}, {limit}, owner={owner!r})", 0.25)
        matching = [dict(item) for item in self.pool.items if owner in (None, item["owner"])]
        return matching[offset : offset + limit]

    async def user_for_token(self, token: str) -> str | None:
        await self._read(f"user_for_token({token!r})", 0.25)
        return TOKENS.get(token)

    async def close(self) -> None:
        self.close_calls += 1
        self.pool.timeline.append(f"close {self.name}")
        if self.close_calls > 1:
            return
        for _ in range(3):  # giving a connection back takes a few turns
            await asyncio.sleep(0)
        self.closed = True
        self.pool.open_now -= 1


class FakePool:
    """Hands out FakeSessions and keeps every one of them for the tests to inspect."""

    def __init__(self, item_count: int = 60) -> None:
        self.items = make_items(item_count)
        self.sessions: list[FakeSession] = []
        self.timeline: list[str] = []
        self.used_after_close: list[FakeSession] = []
        self.open_now = 0
        self.peak_open = 0

    async def open_session(self) -> FakeSession:
        await asyncio.sleep(0)  # a session takes a turn to hand out
        session = FakeSession(self, len(self.sessions) + 1)
        self.sessions.append(session)
        self.timeline.append(f"open {session.name}")
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)
        return session


@pytest.fixture(autouse=True)
def _plain_dependencies_run_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run plain `def` dependencies (Pagination is one) on the event loop's thread.

    FastAPI runs them in a worker thread. The virtual clock of these tests can't see
    that thread, and would jump to the next timer while it works; inline, each request
    takes exactly the event-loop time its reads take.
    """

    async def run_inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", run_inline)


def plug_in(fake: FakePool) -> None:
    """Make every dependency on get_pool get `fake`: the door the testing kata opens."""

    async def get_fake_pool() -> FakePool:
        return fake

    app.dependency_overrides[get_pool] = get_fake_pool


@pytest.fixture
def pool() -> Iterator[FakePool]:
    """A fake pool, plugged into the app where get_pool was."""
    fake = FakePool()
    plug_in(fake)
    yield fake
    app.dependency_overrides.pop(get_pool, None)


@asynccontextmanager
async def connect() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # an error in the app reaches the test
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def timeline(pool: FakePool) -> str:
    return "; ".join(pool.timeline) or "nothing"


def explain_swallowed(error: BaseException, what: str) -> str:
    return (
        f"{what}: an error was raised in the endpoint or in a dependency (an "
        "HTTPException, a validation error, a database error, a cancel), and a dependency "
        "caught it at its `yield` without raising it again. FastAPI then says: "
        f"{str(error).split('. ')[0]}. Close the session in `finally` and catch nothing; "
        "or, if you catch an error, raise it again."
    )


def explain_used_after_close(pool: FakePool, first: int, what: str) -> str:
    """Why a session was used after it was closed, for a request that opened `first`+."""
    session = pool.used_after_close[0]
    if pool.sessions.index(session) < first:
        return (
            f"{what} used {session.name}, which an earlier request had opened and closed. "
            "Every request must open a session of its own in get_session; don't keep one "
            "at module level (or anywhere else) for the next request."
        )
    return (
        f"{what} used {session.name} after it had been closed ({timeline(pool)}). The "
        "session must stay open until the request is completely over: its response sent, "
        "and the export streams after its endpoint has returned. `yield` the session from "
        "get_session and close it after the yield, with FastAPI's default scope (not "
        'scope="function"). Closing it before the yield (a `return` inside try/finally, '
        "or inside `async with`) hands the endpoint a closed session."
    )


_LIBRARIES = tuple({sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")})


def your_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback of an error raised in the app, without the frames inside httpx,
    Starlette and FastAPI (dozens of them): the report shows the tests and your code."""
    kept = []
    tb = tb.tb_next if tb is not None else None  # this frame is added again by `raise`
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_LIBRARIES):
            kept.append(tb)
        tb = tb.tb_next
    trimmed = None
    for entry in reversed(kept):
        trimmed = TracebackType(trimmed, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return trimmed


async def request(
    client: httpx.AsyncClient, pool: FakePool, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """GET url. A closed session's error becomes advice; the app's own error is raised
    again as it is (DatabaseError included), with a shorter traceback."""
    first = len(pool.sessions)
    try:
        return await client.get(url, headers=headers)
    except SessionClosedError:
        message = explain_used_after_close(pool, first, f"GET {url}")
    except FastAPIError as exc:
        message = explain_swallowed(exc, f"GET {url}")
    except Exception as exc:  # the app's own error, raised again as it is
        raise exc.with_traceback(your_frames(exc.__traceback__)) from None
    pytest.fail(message)


async def send(
    client: httpx.AsyncClient,
    pool: FakePool,
    deadline: Deadline,
    url: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET url under a deadline."""
    async with deadline(60, f"GET {url}"):
        return await request(client, pool, url, headers)


def check_one_closed_session(pool: FakePool, first: int, what: str) -> FakeSession:
    """The request opened exactly one session of its own, and it is closed."""
    new = pool.sessions[first:]
    if not new:
        if pool.sessions:
            pytest.fail(
                f"{what} opened no session of its own; it used one an earlier request had "
                f"opened ({timeline(pool)}). Every request must open a new session in "
                "get_session: a session kept for the next request is shared by requests "
                "that have nothing to do with each other."
            )
        pytest.fail(
            f"{what} never opened a session. get_session must open one with "
            "`await pool.open_session()`, taking the pool from get_pool with Depends."
        )
    assert len(new) == 1, (
        f"{what} opened {len(new)} sessions for one request ({timeline(pool)}). FastAPI "
        "calls get_session once per request and hands the same session to everything "
        "that takes SessionDep. Don't open a session yourself anywhere else, and don't "
        "turn that sharing off with use_cache=False."
    )
    session = new[0]
    assert session.close_calls > 0, (
        f"{what} left {session.name} open: it was never closed ({timeline(pool)}). Close "
        "it after the `yield` in get_session, inside `finally`, so that it is closed "
        "however the request ends."
    )
    assert session.close_calls == 1, (
        f"{what} closed {session.name} {session.close_calls} times; close it exactly once."
    )
    assert session.closed, (
        f"{what} called close() on {session.name}, but the close had not finished when the "
        "request was over. Await it: `await session.close()`."
    )
    return session


def check_all_closed(pool: FakePool, what: str) -> None:
    still_open = [s.name for s in pool.sessions if not s.closed]
    assert not still_open, (
        f"After {what}, these sessions were still open: {', '.join(still_open)} "
        f"({timeline(pool)}). get_session must close its session in `finally`, whatever "
        "happened to the request."
    )


async def test_list_items_reads_one_page_with_offset_and_limit(pool, looptime, deadline) -> None:
    async with connect() as client:
        response = await send(client, pool, deadline, "/items?offset=2&limit=3")
    assert response.status_code == 200, (
        f"GET /items?offset=2&limit=3 answered {response.status_code}: {response.text}"
    )
    expected = {"offset": 2, "limit": 3, "items": make_items(60)[2:5]}
    assert response.json() == expected, (
        f"GET /items?offset=2&limit=3 answered {response.json()}; expected {expected}: "
        "the items from `await session.list_items(2, 3)`, with the offset and the limit."
    )
    session = check_one_closed_session(pool, 0, "GET /items?offset=2&limit=3")
    assert session.reads == ["list_items(2, 3, owner=None)"], (
        f"GET /items?offset=2&limit=3 read {session.reads}; expected one "
        "list_items(2, 3) on the request's session."
    )
    assert looptime == 0.25, (
        f"GET /items took {float(looptime)} seconds; one list_items takes 0.25."
    )


async def test_list_items_uses_default_paging_and_allows_a_limit_of_50(pool, deadline) -> None:
    items = make_items(60)
    cases = [
        ("/items", {"offset": 0, "limit": 10, "items": items[:10]}),
        ("/items?limit=50", {"offset": 0, "limit": 50, "items": items[:50]}),
        ("/items?offset=55&limit=50", {"offset": 55, "limit": 50, "items": items[55:]}),
        ("/items?offset=0&limit=1", {"offset": 0, "limit": 1, "items": items[:1]}),
    ]
    async with connect() as client:
        for url, expected in cases:
            first = len(pool.sessions)
            response = await send(client, pool, deadline, url)
            assert response.status_code == 200, (
                f"GET {url} answered {response.status_code}: {response.text}. Without "
                "?offset= and ?limit= the defaults are 0 and 10; a limit of 1 to 50 is fine."
            )
            body = response.json()
            assert body == expected, (
                f"GET {url} answered offset={body.get('offset')!r}, "
                f"limit={body.get('limit')!r} and {len(body.get('items', []))} items; "
                f"expected offset={expected['offset']}, limit={expected['limit']} and "
                f"{len(expected['items'])} items (ids "
                f"{[i['id'] for i in expected['items']][:3]}...)."
            )
            check_one_closed_session(pool, first, f"GET {url}")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=51", "limit"),
        ("offset=-1", "offset"),
        ("limit=ten", "limit"),
        ("offset=1.5", "offset"),
    ],
)
async def test_list_items_answers_422_for_paging_out_of_bounds(
    query: str, field: str, pool, deadline
) -> None:
    url = f"/items?{query}"
    async with connect() as client:
        response = await send(client, pool, deadline, url)
    assert response.status_code == 422, (
        f"GET {url} answered {response.status_code}: {response.text}. offset must be a "
        "whole number of at least 0 and limit a whole number from 1 to 50: declare that "
        "in Pagination's __init__ with Annotated[int, Query(ge=..., le=...)], and FastAPI "
        "answers 422 by itself."
    )
    locations = [error.get("loc") for error in response.json().get("detail", [])]
    assert ["query", field] in locations, (
        f"GET {url} answered 422, but its errors point at {locations}; expected one at "
        f"['query', '{field}']."
    )
    check_all_closed(pool, f"GET {url}")


async def test_read_item_uses_one_session_and_closes_it(pool, looptime, deadline) -> None:
    async with connect() as client:
        response = await send(client, pool, deadline, "/items/7")
    assert response.status_code == 200, (
        f"GET /items/7 answered {response.status_code}: {response.text}"
    )
    assert response.json() == {"id": 7, "name": "item 7", "owner": "ada"}, (
        f"GET /items/7 answered {response.json()}; expected the item as "
        "`await session.get_item(7)` gives it back."
    )
    session = check_one_closed_session(pool, 0, "GET /items/7")
    assert session.reads == ["get_item(7)"], (
        f"GET /items/7 read {session.reads}; expected one get_item(7)."
    )
    assert looptime == 0.5, f"GET /items/7 took {float(looptime)} seconds; get_item takes 0.5."


async def test_read_item_missing_is_404_and_the_session_is_still_closed(pool, deadline) -> None:
    async with connect() as client:
        response = await send(client, pool, deadline, "/items/404")
    assert response.status_code == 404, (
        f"GET /items/404 answered {response.status_code}: {response.text}. There is no "
        "item 404 (get_item gives back None): raise HTTPException with status 404."
    )
    check_one_closed_session(pool, 0, "GET /items/404, which raised HTTPException 404,")


async def test_read_item_lets_a_database_error_through_and_still_closes_the_session(
    pool, deadline
) -> None:
    url = f"/items/{BROKEN_ITEM}"
    response = None
    raised = False
    async with connect() as client:
        try:
            response = await send(client, pool, deadline, url)
        except DatabaseError:
            raised = True
    if not raised:
        assert response is not None
        pytest.fail(
            f"GET {url}: get_item raised DatabaseError, but the app answered "
            f"{response.status_code} ({response.text}) instead of letting it through. An "
            "error from the database is not read_item's to handle: don't catch it, and "
            "FastAPI answers 500 for it (and the server logs the traceback)."
        )
    check_one_closed_session(pool, 0, f"GET {url}, which failed with DatabaseError,")


async def test_my_items_shares_one_session_between_the_user_and_the_items(
    pool, looptime, deadline
) -> None:
    url = "/me/items?offset=1&limit=4"
    async with connect() as client:
        response = await send(client, pool, deadline, url, {"X-Token": "token-bob"})
    assert response.status_code == 200, (
        f"GET {url} with X-Token: token-bob answered {response.status_code}: {response.text}"
    )
    bobs = [item for item in make_items(60) if item["owner"] == "bob"]
    expected = {"user": "bob", "items": bobs[1:5]}
    assert response.json() == expected, (
        f"GET {url} as bob answered {response.json()}; expected {expected}: the user's "
        "name, and `await session.list_items(1, 4, owner='bob')`."
    )
    session = check_one_closed_session(pool, 0, f"GET {url}")
    assert sorted(session.reads) == sorted(
        ["user_for_token('token-bob')", "list_items(1, 4, owner='bob')"]
    ), (
        f"GET {url} read {session.reads} on its session; expected the token lookup and "
        "bob's items, both on the one session of the request."
    )
    assert looptime == 0.5, (
        f"GET {url} took {float(looptime)} seconds: 0.25 for the token and 0.25 for the items."
    )


@pytest.mark.parametrize(
    "headers", [{}, {"X-Token": "token-nobody"}, {"X-Token": ""}], ids=["no", "unknown", "empty"]
)
async def test_my_items_without_a_known_token_is_401_and_the_session_is_closed(
    headers: dict[str, str], pool, deadline
) -> None:
    said = f"with X-Token: {headers['X-Token']!r}" if headers else "without an X-Token header"
    async with connect() as client:
        response = await send(client, pool, deadline, "/me/items", headers)
    assert response.status_code == 401, (
        f"GET /me/items {said} answered {response.status_code}: {response.text}. "
        "get_current_user must raise HTTPException with status 401 when there is no "
        "token, or when `session.user_for_token` gives back None."
    )
    assert not any(read.startswith("list_items") for s in pool.sessions for read in s.reads), (
        f"GET /me/items {said} read items ({timeline(pool)}) although nobody is logged in."
    )
    check_all_closed(pool, f"GET /me/items {said}, which raised HTTPException 401,")


async def test_every_request_gets_a_session_of_its_own(pool, deadline) -> None:
    urls = [f"/items/{BROKEN_ITEM}", "/items/2", "/items/404", "/items/3", "/items?limit=2"]
    async with connect() as client:
        for url in urls:
            first = len(pool.sessions)
            try:
                await send(client, pool, deadline, url)
            except DatabaseError:
                pass  # expected for the broken item: what matters here is the session
            check_one_closed_session(pool, first, f"GET {url} (request {len(pool.sessions)})")
    assert len({id(session) for session in pool.sessions}) == len(urls), (
        f"{len(urls)} requests, one after another, should use {len(urls)} different "
        f"sessions ({timeline(pool)})."
    )


async def test_concurrent_requests_each_get_their_own_session(pool, looptime, deadline) -> None:
    ids = list(range(20, 35))  # 15 requests at the same time
    async with connect() as client, deadline(60, "15 GET /items/{id} at the same time"):
        results = await asyncio.gather(
            *(request(client, pool, f"/items/{i}") for i in ids), return_exceptions=True
        )
    errors = [result for result in results if isinstance(result, BaseException)]
    if errors:
        raise errors[0]  # the first request's error; the others had the same chance
    responses = [result for result in results if isinstance(result, httpx.Response)]
    assert [r.json().get("id") if r.status_code == 200 else r.status_code for r in responses] == (
        ids
    ), "15 requests for items 20 to 34 at the same time did not each get their own item."
    assert len(pool.sessions) == 15, (
        f"15 requests at the same time opened {len(pool.sessions)} sessions; expected one "
        "each. A session shared between requests mixes up their work."
    )
    reads = sorted(tuple(session.reads) for session in pool.sessions)
    assert reads == sorted((f"get_item({i})",) for i in ids), (
        f"Each of the 15 sessions should have read exactly one item, its request's: {reads}"
    )
    assert pool.peak_open == 15, (
        f"At most {pool.peak_open} sessions were open at once; the 15 requests should run "
        "at the same time, each with its own session."
    )
    check_all_closed(pool, "15 requests at the same time")
    assert looptime == 0.5, (
        f"15 requests that each read for 0.5 seconds took {float(looptime)} seconds "
        "together; at the same time they take 0.5. Is something waiting for another "
        "request's session?"
    )


async def test_export_streams_while_the_session_is_still_open(looptime, deadline) -> None:
    fake = FakePool(item_count=5)
    plug_in(fake)
    try:
        async with connect() as client:
            response = await send(client, fake, deadline, "/items/export")
    finally:
        app.dependency_overrides.pop(get_pool, None)
    assert response.status_code == 200, (
        f"GET /items/export answered {response.status_code}: {response.text}"
    )
    expected = "".join(f"{i},item {i}\n" for i in range(1, 6))
    assert response.text == expected, (
        f"GET /items/export streamed {response.text!r}; expected {expected!r}."
    )
    session = check_one_closed_session(fake, 0, "GET /items/export")
    assert len(session.reads) == 4, (
        f"The export read {session.reads}; expected 4 reads of 2 items (the last empty)."
    )
    assert fake.timeline[-1] == f"close {session.name}", (
        f"The export's session was closed before the stream was done: {timeline(fake)}."
    )
    assert looptime == 1, f"GET /items/export took {float(looptime)} s; 4 reads take 1."


async def test_a_cancelled_request_still_closes_its_session(pool, looptime, deadline) -> None:
    async with connect() as client:
        task = asyncio.create_task(request(client, pool, "/items/8"))
        await asyncio.sleep(0.25)  # get_item(8) is under way: it takes 0.5 seconds
        if task.done():
            await task  # raises the app's own error, if it had one
            pytest.fail(
                f"GET /items/8 was over after 0.25 seconds, though get_item takes 0.5: "
                f"{timeline(pool)}."
            )
        task.cancel()  # the request is cancelled while the endpoint reads
        async with deadline(60, "GET /items/8 after it was cancelled"):
            await asyncio.wait([task])
    if not task.cancelled():
        await task  # raises the app's own error, if it had one
        pytest.fail(
            "GET /items/8 was cancelled while it read the item, but it went on and "
            "finished. Let CancelledError through: don't catch it in get_session."
        )
    check_one_closed_session(pool, 0, "GET /items/8, cancelled while it read,")
    assert looptime == 0.25, (
        f"GET /items/8 was cancelled at 0.25 seconds but only ended at {float(looptime)}."
    )
