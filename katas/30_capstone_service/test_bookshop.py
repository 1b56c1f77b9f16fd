"""Kata 30 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosqlite
import anyio.to_thread
import fakeredis
import fastapi.dependencies.utils
import httpx
import pytest
import redis.asyncio
from asgi_lifespan import LifespanManager
from bookshop import (
    BookIn,
    HttpDep,
    LimiterDep,
    RedisDep,
    RepoDep,
    RequestIdDep,
    SessionDep,
    Settings,
    create_app,
)
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool
from sqlalchemy.util import greenlet_spawn

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]

# Unset: an in-process fakeredis for every test. Set (redis://host:port/0): a real server.
REDIS_URL = os.environ.get("REDIS_URL", "")

WEBHOOK = "http://hooks.test"
ISBN = "9780141439518"
BOOK = {"title": "Pride and Prejudice", "author": "Jane Austen", "isbn": ISBN}
OTHER = {"title": "Middlemarch", "author": "George Eliot", "isbn": "9780141439549"}


# -- holding the virtual clock while real work runs ---------------------------------------


class _RunsNothing(concurrent.futures.Executor):
    """An executor that runs nothing: its one future is done when the caller says so."""

    def __init__(self, future: concurrent.futures.Future[None]) -> None:
        self.future = future

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[None]:
        return self.future


async def holding_the_clock(work: Coroutine[Any, Any, Any]) -> Any:
    """Awaits `work` while the virtual clock stands still.

    looptime moves its clock to the next timer as soon as the loop has nothing to run.
    aiosqlite does its work in a thread of its own (and a real Redis answers over a
    socket): looptime cannot see either, and would fire a timeout that never happened
    while a query runs. While a future of `loop.run_in_executor` is pending, looptime
    waits in real time instead; so every database call keeps one pending, from an
    executor that runs nothing (no thread). The database then costs no virtual time.
    """
    held: concurrent.futures.Future[None] = concurrent.futures.Future()
    waiter = asyncio.get_running_loop().run_in_executor(_RunsNothing(held), print)
    try:
        return await work
    finally:
        held.set_result(None)
        await waiter


@pytest.fixture(autouse=True)
def _database_holds_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_execute", "_connect", "close"):
        original = getattr(aiosqlite.Connection, name)

        async def held(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            return await holding_the_clock(__original(self, *args, **kwargs))

        monkeypatch.setattr(aiosqlite.Connection, name, held)


@pytest.fixture(autouse=True)
def _threads_run_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain `def` dependencies and background tasks run on the loop's thread here.

    FastAPI runs them in a worker thread, which the virtual clock can't see; inline,
    each request takes exactly the event-loop time its awaits take.
    """

    async def run_inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    async def run_sync(func: Callable[..., Any], *args: Any, **_options: Any) -> Any:
        return func(*args)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", run_inline)
    monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)


# -- the fake network: suppliers and the webhook ------------------------------------------


@dataclass
class Supplier:
    """How one fake supplier answers GET /prices/{isbn}.

    fails: None answers {"price_cents": price} after `seconds`; "500" answers 500 after
    `seconds`; "garbage" answers 200 with a body that is not JSON; "connect" refuses the
    connection at once; "hang" never answers.
    """

    price: int = 1000
    seconds: float = 1.0
    fails: str | None = None


@dataclass
class Call:
    what: str
    start: float
    end: float | None = None
    outcome: str = "still running"
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def __str__(self) -> str:
        end = "…" if self.end is None else f"{self.end:g}"
        return f"{self.what} {self.start:g}–{end} s {self.outcome}"


class Network(httpx.AsyncBaseTransport):
    """The wire behind the app's httpx client (Settings.transport).

    http://<name>.supplier/prices/<isbn> is a supplier, http://hooks.test/events the
    webhook. It keeps every call with its loop times, counts the supplier calls in flight
    (and the peak), and hangs up a cancelled call in a few loop turns, like a real one.
    """

    def __init__(self, suppliers: dict[str, Supplier], timeline: Any = None) -> None:
        self.suppliers = suppliers
        self.timeline = timeline
        self.calls: list[Call] = []
        self.events: list[Call] = []
        self.in_flight = 0
        self.peak = 0
        self.webhook_seconds = 0.0  # the webhook test makes it slow
        self.webhook_fails: str | None = None  # "500" or "connect"
        self.loop = asyncio.get_running_loop()
        self.zero = self.loop.time()

    def urls(self) -> dict[str, str]:
        return {name: f"http://{name}.supplier" for name in self.suppliers}

    def now(self) -> float:
        return round(self.loop.time() - self.zero, 6)

    def running(self) -> list[Call]:
        return [call for call in self.calls if call.end is None]

    def story(self) -> str:
        return "; ".join(str(call) for call in self.calls) or "no supplier was called"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host or ""
        if f"http://{host}" == WEBHOOK:
            return await self.webhook(request)
        name = host.removesuffix(".supplier")
        isbn = request.url.path.rsplit("/", 1)[-1]
        if name not in self.suppliers or request.url.path != f"/prices/{isbn}":
            return httpx.Response(404, json={"detail": f"nothing at {request.url}"})
        call = Call(f"{name}({isbn})", self.now())
        self.calls.append(call)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        supplier = self.suppliers[name]
        span = self.timeline.span(name) if self.timeline else contextlib.nullcontext()
        try:
            with span:
                if supplier.fails == "connect":
                    await asyncio.sleep(0)
                    call.outcome = "refused the connection"
                    raise httpx.ConnectError("Connection refused", request=request)
                if supplier.fails == "hang":
                    await asyncio.Event().wait()
                await asyncio.sleep(supplier.seconds)
                if supplier.fails == "500":
                    call.outcome = "answered 500"
                    body = {"detail": "supplier broken", "price_cents": 1}  # a stale price
                    return httpx.Response(500, json=body)
                if supplier.fails == "garbage":
                    call.outcome = "answered 200 with a body that is not JSON"
                    return httpx.Response(200, text="<html>Service Unavailable</html>")
                call.outcome = f"answered a price of {supplier.price} cents"
                return httpx.Response(200, json={"isbn": isbn, "price_cents": supplier.price})
        except asyncio.CancelledError:
            call.outcome = "cancelled"
            for _ in range(3):  # hanging up takes a few turns
                await asyncio.sleep(0)
            raise
        finally:
            self.in_flight -= 1
            call.end = self.now()

    async def webhook(self, request: httpx.Request) -> httpx.Response:
        call = Call(f"{request.method} {request.url.path}", self.now())
        call.headers = dict(request.headers)
        with contextlib.suppress(ValueError):
            call.body = httpx.Response(200, content=await request.aread()).json()
        self.events.append(call)
        if self.webhook_fails == "connect":
            call.outcome = "refused the connection"
            raise httpx.ConnectError("Connection refused", request=request)
        await asyncio.sleep(self.webhook_seconds)
        call.end = self.now()
        if self.webhook_fails == "500":
            call.outcome = "answered 500"
            return httpx.Response(500, json={"detail": "webhook broken"})
        call.outcome = "answered 200"
        return httpx.Response(200, json={"ok": True})


# -- watching the app's httpx clients, Redis clients and database connections -------------


class Watch:
    """Every httpx client, Redis client and database connection the app made.

    httpx.AsyncClient is patched so every client is seen however it is made; the ones
    the tests make themselves are left out. The Redis clients come from the tests'
    factory (Settings.redis_factory); the connections from SQLAlchemy's pool events.
    """

    def __init__(self) -> None:
        self.moment = "before startup"
        self.clients: list[tuple[httpx.AsyncClient, str]] = []
        self.sent: list[tuple[httpx.AsyncClient, str]] = []
        self.ours: list[httpx.AsyncClient] = []
        self.redis: list[tuple[Any, str]] = []
        self.open_connections: list[Any] = []
        self.sessions: list[Any] = []  # every ORM session that began a transaction
        self.closed_sessions: list[Any] = []  # ... and those that were closed
        self.selects = 0  # SELECTs on the books table

    def app_clients(self) -> list[httpx.AsyncClient]:
        return [c for c, _ in self.clients if not any(c is o for o in self.ours)]

    def sent_by(self, client: httpx.AsyncClient) -> list[str]:
        return [what for sender, what in self.sent if sender is client]

    def story(self) -> str:
        parts = []
        for number, client in enumerate(self.app_clients(), 1):
            moment = next(m for c, m in self.clients if c is client)
            state = "closed now" if client.is_closed else "still open"
            parts.append(
                f"httpx client #{number} made {moment}, sent {len(self.sent_by(client))} "
                f"request(s), {state}"
            )
        return "; ".join(parts) or "your app made no httpx.AsyncClient"

    def began(self, session: Any, *_: Any) -> None:
        if not any(session is known for known in self.sessions):
            self.sessions.append(session)

    def in_transaction(self) -> int:
        return sum(1 for session in self.sessions if session.in_transaction())

    def never_closed(self) -> int:
        return sum(
            1 for session in self.sessions if not any(session is c for c in self.closed_sessions)
        )

    def connected(self, dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")  # a test database: no waiting for the disk
        cursor.close()
        self.open_connections.append(dbapi_connection)

    def closed(self, dbapi_connection: Any, _record: Any) -> None:
        self.open_connections = [c for c in self.open_connections if c is not dbapi_connection]

    def cursor(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split()).upper()
        if text.startswith("SELECT") and "FROM BOOKS" in text:
            self.selects += 1


_REDIS_CLASSES: dict[type, type] = {}


def _tracked(base: type) -> type:
    """A subclass of the Redis client class `base` that notes when it is closed."""
    if base not in _REDIS_CLASSES:

        class Tracked(base):  # type: ignore[misc, valid-type]
            closed = False

            async def aclose(self, *args: Any, **kwargs: Any) -> None:
                self.closed = True
                await super().aclose(*args, **kwargs)

        _REDIS_CLASSES[base] = Tracked
    return _REDIS_CLASSES[base]


@pytest.fixture
async def watch(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Watch]:
    seen = Watch()
    client_init = httpx.AsyncClient.__init__
    client_send = httpx.AsyncClient.send

    def spying_init(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        client_init(client, *args, **kwargs)
        seen.clients.append((client, seen.moment))

    async def spying_send(
        client: httpx.AsyncClient, request: httpx.Request, *args: Any, **kwargs: Any
    ) -> httpx.Response:
        seen.sent.append((client, f"{request.method} {request.url.host}{request.url.path}"))
        return await client_send(client, request, *args, **kwargs)

    session_close = AsyncSession.close

    async def spying_close(session: AsyncSession) -> None:
        seen.closed_sessions.append(session.sync_session)
        await session_close(session)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", spying_init)
    monkeypatch.setattr(httpx.AsyncClient, "send", spying_send)
    monkeypatch.setattr(AsyncSession, "close", spying_close)
    listeners = [
        (Pool, "connect", seen.connected),
        (Pool, "close", seen.closed),
        (Engine, "before_cursor_execute", seen.cursor),
        (Session, "after_begin", seen.began),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    yield seen
    for target, name, listener in listeners:
        event.remove(target, name, listener)
    # What the app left open is closed here, so that the next test starts clean (and no
    # aiosqlite thread outlives this one): sessions still in a transaction, connections.
    closes = [session.close for session in seen.sessions if session.in_transaction()]
    closes += [connection.close for connection in seen.open_connections]
    for close in closes:
        with contextlib.suppress(Exception):  # what is broken already needs no closing
            await greenlet_spawn(close)


# -- Redis: in-process by default, a real server with REDIS_URL ---------------------------


class HoldTheClock(redis.asyncio.Connection):
    """A connection to a real Redis that keeps the virtual clock still while it waits."""

    async def connect(self) -> None:
        await holding_the_clock(super().connect())

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return await holding_the_clock(super().read_response(*args, **kwargs))


_CLAIM = "asynckata:db:{}"
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


def _at_db(url: str, db: int) -> str:
    return urlsplit(url)._replace(path=f"/{db}").geturl()


@dataclass
class RedisBox:
    """The test's Redis: `admin` to look inside it, `factory` for the app's clients."""

    admin: Any
    factory: Callable[[], Any]
    made: list[Any] = field(default_factory=list)
    broken: bool = False  # True: the factory raises, as when Redis can't be reached


@pytest.fixture
async def redis_box() -> AsyncIterator[RedisBox]:
    """An empty Redis of this test's own.

    By default an in-process fakeredis server per test. With REDIS_URL set, a real server
    that other test processes may share: each test claims a database of its own (`SET
    asynckata:db:<n> <token> NX EX 120` on db 0, n = 1..15), flushed before and after.
    """
    if not REDIS_URL:
        server = fakeredis.FakeServer()
        cls = _tracked(fakeredis.FakeAsyncRedis)
        admin = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
        box = RedisBox(admin, lambda: cls(server=server, decode_responses=True))
        try:
            yield box
        finally:
            await admin.aclose()
        return
    cls = _tracked(redis.asyncio.Redis)

    def real(url: str) -> Any:
        return cls.from_url(url, decode_responses=True, connection_class=HoldTheClock)

    claim = real(_at_db(REDIS_URL, 0))
    token = f"{os.getpid()}:{uuid.uuid4().hex}"
    try:
        db = None
        for n in range(1, 16):
            if await claim.set(_CLAIM.format(n), token, nx=True, ex=120):
                db = n
                break
        if db is None:
            pytest.fail(f"Databases 1 to 15 of the Redis at {REDIS_URL} are all claimed.")
        url = _at_db(REDIS_URL, db)
        admin = real(url)
        try:
            await admin.flushdb()
            yield RedisBox(admin, lambda: real(url))
        finally:
            try:
                await admin.flushdb()
                await admin.aclose()
            finally:
                await claim.eval(_RELEASE, 1, _CLAIM.format(db), token)
    finally:
        await claim.aclose()


def raise_a_todo(error: BaseException) -> None:
    """A stub's NotImplementedError, wrapped by asgi_lifespan at startup, raised as it is:
    the checker then reads the kata as not started yet."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, NotImplementedError):
            raise seen
        seen = seen.__cause__ or seen.__context__


def advice_for(error: Exception, what: str) -> str | None:
    """What a typical error means, in the words of this kata; None: no advice."""
    text = str(error).split("\n")[0]
    if isinstance(error, AttributeError) and "'State' object has no attribute" in text:
        return (
            f"{what}: {text}. What the lifespan yields reaches each request as "
            "request.state; here it did not. Does the lifespan yield a dict with that key? "
            "Does your middleware replace scope['state'] instead of adding its key to it "
            "(`scope.setdefault('state', {})['request_id'] = ...`)?"
        )
    if (isinstance(error, UnboundLocalError) and "response" in text) or (
        "Response not awaited" in text
    ):
        return (
            f"{what}: the endpoint raised an error, and get_session caught it at the yield "
            "without raising it again, so FastAPI had no response to send. Roll back, then "
            "`raise`: the error must go on up."
        )
    if isinstance(error, sa_exc.IllegalStateChangeError) or (
        isinstance(error, sa_exc.InvalidRequestError) and "concurrent" in text
    ):
        return (
            f"{what}: requests used one session at the same time ({text}). An AsyncSession "
            "is for one task at a time: get_session makes a new one for every request."
        )
    if isinstance(error, sa_exc.OperationalError) and "no such table" in text:
        return (
            f"{what} failed: {text}. The lifespan creates the tables at startup: "
            "`await conn.run_sync(Base.metadata.create_all)` in `async with engine.begin() "
            "as conn:`."
        )
    return None


# -- running the shop ---------------------------------------------------------------------


class ProbeError(Exception):
    """Raised by the tests' own endpoint when it fails after writing."""


# The tests' own endpoints, on your dependencies: they test one part at a time. Made once
# (FastAPI keeps what it learns about an endpoint function for as long as it lives).
PROBES = APIRouter(prefix="/probe")


@PROBES.post("/write/{then}")
async def probe_write(
    then: str, repo: RepoDep, session: SessionDep, title: str = ""
) -> dict[str, Any]:
    """Adds a book through your repository, then ends as `then` says."""
    book = await repo.add(BookIn(title=title or f"probe {then}", author="Probe", isbn=ISBN))
    same = book in session
    if then == "http":
        raise HTTPException(status_code=418, detail="changed my mind")
    if then == "error":
        raise ProbeError("the endpoint failed after it had written")
    if then == "wait":
        await asyncio.Event().wait()  # until the request is cancelled
    return {"id": book.id, "same_session": same}


@PROBES.get("/book/{book_id}")
async def probe_get(book_id: int, repo: RepoDep) -> dict[str, Any]:
    book = await repo.get(book_id)
    return {"found": None if book is None else [book.id, book.title]}


@PROBES.delete("/book/{book_id}")
async def probe_delete(book_id: int, repo: RepoDep) -> dict[str, Any]:
    return {"deleted": await repo.delete(book_id)}


@PROBES.get("/state")
async def probe_state(
    request: Request, http: HttpDep, redis_client: RedisDep, limiter: LimiterDep
) -> dict[str, Any]:
    """What the getters hand out, kept for the test to look at."""
    request.app.state.probed.append((http, redis_client, limiter))
    return {}


@PROBES.get("/whoami")
async def probe_whoami(request_id: RequestIdDep, fail: int = 0, own: str = "") -> Any:
    """The request id the endpoint sees; `own`: a response with an X-Request-ID of its
    own already (as from a proxied upstream), which the middleware replaces."""
    if fail:
        raise HTTPException(status_code=fail, detail="as asked")
    if own:
        return JSONResponse({"request_id": request_id}, headers={"X-Request-ID": own})
    return {"request_id": request_id}


def add_probes(app: FastAPI) -> None:
    app.state.probed = []
    app.include_router(PROBES)


def read_file(path: Path) -> list[tuple[Any, ...]]:
    """The books in the database file, read with the sqlite3 module, as another program
    would: only what was committed is there."""
    assert path.exists(), (
        f"There is no database file at {path}: the app never wrote to the database in "
        "settings.database_url. Create the engine from it."
    )
    with closing(sqlite3.connect(path)) as db:
        try:
            return db.execute("SELECT id, title, author, isbn FROM books ORDER BY id").fetchall()
        except sqlite3.OperationalError as error:
            pytest.fail(
                f"Reading the database file failed: {error}. The lifespan creates the tables "
                "at startup: `await conn.run_sync(Base.metadata.create_all)` inside "
                "`async with engine.begin() as conn:`."
            )


_SHOP_NUMBERS = itertools.count(1)


class Shop:
    """Your app with this test's database file, Redis and fake network, and a client."""

    def __init__(
        self,
        tmp_path: Path,
        watch: Watch,
        box: RedisBox,
        deadline: Deadline,
        suppliers: dict[str, Supplier] | None = None,
        timeline: Any = None,
        **changes: Any,
    ) -> None:
        self.path = tmp_path / f"shop{next(_SHOP_NUMBERS)}.db"
        self.watch = watch
        self.box = box
        self.deadline = deadline
        self.net = Network(dict(suppliers or {}), timeline)

        def factory() -> Any:
            if box.broken:
                raise redis.ConnectionError("Error 111 connecting to redis:6379.")
            client = box.factory()
            box.made.append((client, watch.moment))
            return client

        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{self.path}",
            "redis_factory": factory,
            "suppliers": self.net.urls(),
            "webhook_url": WEBHOOK,
            "max_in_flight": 4,
            "supplier_timeout": 2.0,
            "cache_ttl": 300,
            "transport": self.net,
        }
        self.settings = Settings(**{**values, **changes})
        self.app = create_app(self.settings)
        add_probes(self.app)
        self.manager: LifespanManager | None = None
        self.client: httpx.AsyncClient | None = None
        self.sent_at: dict[str, float] = {}  # request id -> loop time its response was sent
        self.over_at: dict[str, float] = {}  # request id -> loop time its request was over

    async def start(self) -> None:
        manager = LifespanManager(self.app, startup_timeout=None, shutdown_timeout=None)
        self.watch.moment = "at startup"
        try:
            async with self.deadline(30, "The app's startup (your lifespan, up to its yield)"):
                await manager.__aenter__()
        except Exception as error:
            raise_a_todo(error)
            raise
        self.manager = manager
        self.watch.moment = "while serving"
        transport = httpx.ASGITransport(app=self.watched(manager.app))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://test")
        self.watch.ours.append(self.client)

    def watched(self, app: Any) -> Any:
        """Notes when each response was sent, and when its request was over.

        With httpx.ASGITransport, `await client.post(...)` returns only once the whole
        ASGI call is over, background tasks included."""

        async def noting(scope: Any, receive: Any, send: Any) -> None:
            key = dict(scope.get("headers", [])).get(b"x-test-key", b"").decode()

            async def noting_send(message: Any) -> None:
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    self.sent_at[key] = self.net.now()

            await app(scope, receive, noting_send)
            self.over_at[key] = self.net.now()

        return noting

    async def stop(self) -> None:
        manager, self.manager = self.manager, None
        if self.client is not None:
            await self.client.aclose()
        if manager is not None:
            self.watch.moment = "at shutdown"
            async with self.deadline(30, "The app's shutdown (your lifespan, after its yield)"):
                await manager.__aexit__(None, None, None)
            self.watch.moment = "after shutdown"

    async def request(
        self, method: str, url: str, *, key: str = "", **kwargs: Any
    ) -> httpx.Response:
        assert self.client is not None
        headers = dict(kwargs.pop("headers", {}))
        if key:
            headers["x-test-key"] = key
        try:
            async with self.deadline(60, f"{method} {url}"):
                response = await self.client.request(method, url, headers=headers, **kwargs)
        except (AttributeError, UnboundLocalError, RuntimeError, sa_exc.SQLAlchemyError) as error:
            advice = advice_for(error, f"{method} {url}")
            if advice is None:
                raise
            raise pytest.fail.Exception(advice) from None
        assert response.headers.get("x-request-id"), (
            f"{method} {url} answered {response.status_code} without an X-Request-ID "
            "header. Every response carries one (errors too): RequestIdMiddleware adds it."
        )
        return response

    async def add_book(self, book: dict[str, str] = BOOK) -> int:
        response = await self.request("POST", "/books", json=book)
        assert response.status_code == 201, (
            f"POST /books answered {response.status_code}: {response.text[:300]}; a new "
            "book answers 201 Created."
        )
        book_id = response.json().get("id")
        assert isinstance(book_id, int), (
            f"POST /books answered {response.json()}: the new book needs its id. "
            "`await session.flush()` after `session.add(book)` runs the INSERT and sets it."
        )
        return book_id

    async def seed(self, title: str) -> tuple[int, dict[str, Any]]:
        """A book added straight through your repository (not POST /books), and what
        GET /books/{id} should answer for it."""
        response = await self.request("POST", "/probe/write/ok", params={"title": title})
        assert response.status_code == 200, response.text[:300]
        book_id = response.json()["id"]
        return book_id, {"id": book_id, "title": title, "author": "Probe", "isbn": ISBN}

    async def ttls(self) -> dict[str, int]:
        """Every key in Redis and its time to live in milliseconds (-1: none)."""
        admin = self.box.admin
        return {key: await admin.pttl(key) for key in await admin.keys("*")}

    def leftovers(self) -> list[str]:
        """What the app left open after its lifespan ended."""
        left = [
            f"httpx client made {moment}"
            for client, moment in self.watch.clients
            if not client.is_closed and not any(client is o for o in self.watch.ours)
        ]
        left += [
            f"Redis client made {moment}" for client, moment in self.box.made if not client.closed
        ]
        if self.watch.in_transaction():
            left.append(
                f"{self.watch.in_transaction()} request session(s) still in a transaction "
                "(get_session must end and close every session it makes)"
            )
        elif self.watch.never_closed():
            left.append(
                f"{self.watch.never_closed()} request session(s) never closed (get_session "
                "closes every session it makes: `async with sessions() as session:`)"
            )
        if self.watch.open_connections:
            left.append(f"{len(self.watch.open_connections)} database connection(s)")
        return left


@asynccontextmanager
async def open_shop(
    tmp_path: Path, watch: Watch, box: RedisBox, deadline: Deadline, **options: Any
) -> AsyncIterator[Shop]:
    """Starts your app; after a clean shutdown, checks that everything was closed."""
    shop = Shop(tmp_path, watch, box, deadline, **options)
    await shop.start()
    try:
        yield shop
    except BaseException:
        with contextlib.suppress(Exception):
            await shop.stop()
        raise
    await shop.stop()
    left = shop.leftovers()
    assert not left, (
        f"After shutdown, your app left open: {', '.join(left)}. The lifespan closes "
        "everything it made, after its yield: the httpx client (`async with` or "
        "`await client.aclose()`), the engine (`await engine.dispose()`) and the Redis "
        "client (`await redis.aclose()`)."
    )


@pytest.fixture
def shop(
    tmp_path: Path, watch: Watch, redis_box: RedisBox, deadline: Deadline
) -> Callable[..., AbstractAsyncContextManager[Shop]]:
    def make(**options: Any) -> AbstractAsyncContextManager[Shop]:
        return open_shop(tmp_path, watch, redis_box, deadline, **options)

    return make


# ============================================ 1. the request id ===========================


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Your app without its lifespan: enough for the middleware, which every request
    passes through. (The lifespan is part 2.)"""
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db"))
    add_probes(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def fresh_id(rid: str | None) -> bool:
    """True for a fresh id: uuid.uuid4().hex."""
    try:
        parsed = uuid.UUID(hex=rid or "")
    except ValueError:
        return False
    return rid == parsed.hex and parsed.version == 4


async def test_request_id_a_fresh_one_on_every_response_errors_too(
    bare: httpx.AsyncClient, deadline: Deadline
) -> None:
    cases = [
        ("GET", "/probe/whoami", 200),
        ("GET", "/probe/whoami?fail=404", 404),
        ("GET", "/probe/whoami?fail=503", 503),
        ("GET", "/probe/whoami?fail=oops", 422),
        ("GET", "/no/such/path", 404),
        ("PUT", "/books", 405),
    ]
    seen: list[str] = []
    for method, url, expected in cases:
        async with deadline(30, f"{method} {url}"):
            response = await bare.request(method, url)
        assert response.status_code == expected, (
            f"{method} {url} answered {response.status_code}: {response.text[:200]}; "
            f"expected {expected}."
        )
        rid = response.headers.get("x-request-id")
        assert rid is not None, (
            f"{method} {url} answered {expected} without an X-Request-ID header. Every "
            "response carries one, errors too: the middleware wraps the whole app, and "
            "adds the header to whatever response start message goes out (the endpoints "
            "never see a 404 for an unknown path, or a 422)."
        )
        assert fresh_id(rid), (
            f"{method} {url} answered X-Request-ID {rid!r}; a fresh id is "
            "uuid.uuid4().hex (32 lowercase hex digits, no dashes)."
        )
        if expected == 200:
            assert response.json() == {"request_id": rid}, (
                f"The endpoint saw the request id {response.json().get('request_id')!r} "
                f"(get_request_id reads scope['state']['request_id']), and the response "
                f"carried {rid!r}: they are the same id. Store it in the scope's state "
                "before calling the app."
            )
        seen.append(rid)
    assert len(set(seen)) == len(seen), (
        f"The request ids were {seen}: every request gets a new one. Make it inside "
        "__call__, per request."
    )


async def test_request_id_echoes_a_sane_incoming_one_and_replaces_others(
    bare: httpx.AsyncClient, deadline: Deadline
) -> None:
    for sane in ["abc-123", "Req_42.retry-1", "x" * 64, "0f" * 16]:
        async with deadline(30, "GET /probe/whoami"):
            response = await bare.get("/probe/whoami", headers={"X-Request-ID": sane})
        got = response.headers.get("x-request-id")
        assert got == sane and response.json() == {"request_id": sane}, (
            f"A request came with X-Request-ID {sane!r}, a sane id (SANE_REQUEST_ID "
            f"matches it); the response carried {got!r} and the endpoint saw "
            f"{response.json()}. Echo it, so the client's id follows its request through "
            "every log."
        )
    for insane in ["", "has spaces", "x" * 65, "a\tb", "semi;colon", "é", "ok\n"]:
        async with deadline(30, "GET /probe/whoami"):
            response = await bare.get("/probe/whoami", headers={"X-Request-ID": insane.encode()})
        got = response.headers.get("x-request-id", "")
        assert fresh_id(got), (
            f"A request came with X-Request-ID {insane!r}, which SANE_REQUEST_ID does not "
            f"match in full; the response carried {got!r}. Replace such an id with a fresh "
            "uuid.uuid4().hex (SANE_REQUEST_ID.fullmatch, not .match or .search)."
        )
    async with deadline(30, "GET /probe/whoami"):
        response = await bare.get(
            "/probe/whoami", headers=[("X-Request-ID", "first"), ("X-Request-ID", "second")]
        )
    got = response.headers.get_list("x-request-id")
    assert len(got) == 1, (
        f"A response carried {len(got)} X-Request-ID headers: {got}. Set the header once "
        "(MutableHeaders(scope=message)[...] = ... replaces), never append a second one."
    )
    async with deadline(30, "GET /probe/whoami?own=upstream-7"):
        response = await bare.get("/probe/whoami?own=upstream-7", headers={"X-Request-ID": "r-1"})
    got = response.headers.get_list("x-request-id")
    assert got == ["r-1"], (
        f"An endpoint answered with an X-Request-ID header of its own ('upstream-7'), for "
        f"the request 'r-1'; the response carried {got}. The middleware's id replaces it: "
        "`MutableHeaders(scope=message)['X-Request-ID'] = ...` sets it once."
    )


async def test_request_id_keeps_the_other_headers_and_the_body(
    bare: httpx.AsyncClient, deadline: Deadline
) -> None:
    async with deadline(30, "GET /probe/whoami?fail=404"):
        response = await bare.get("/probe/whoami?fail=404")
    assert response.json() == {"detail": "as asked"}, (
        f"A 404 went through your middleware and came out as {response.text[:200]!r}; the "
        "body passes through unchanged."
    )
    assert response.headers.get("content-type") == "application/json", (
        f"A JSON response came out of your middleware with the headers "
        f"{dict(response.headers)}: keep the response's own headers, add X-Request-ID."
    )


# ============================================ 2. the lifespan =============================


async def test_lifespan_makes_one_of_each_at_startup_and_closes_them_at_shutdown(
    shop: Any, watch: Watch, redis_box: RedisBox
) -> None:
    async with shop(max_in_flight=3) as s:
        made = watch.app_clients()
        assert len(made) == 1, (
            f"Right after startup: {watch.story()}. The lifespan makes exactly one "
            "httpx.AsyncClient, before its yield: the app's connection pool."
        )
        client = made[0]
        assert not client.is_closed, (
            f"Right after startup the app's client is closed already: {watch.story()}. "
            "Keep it open until shutdown: yield inside its `async with` block."
        )
        assert len(redis_box.made) == 1, (
            f"At startup the app made {len(redis_box.made)} Redis clients; the lifespan "
            "makes one with new_redis(settings)."
        )
        assert s.path.exists() and read_file(s.path) == [], (
            "After startup the database file has no books table yet."
        )
        for _ in range(3):
            response = await s.request("GET", "/probe/state")
            assert response.status_code == 200, (
                f"GET on the tests' endpoint that takes HttpDep, RedisDep and LimiterDep "
                f"answered {response.status_code}: {response.text[:300]}"
            )
        probed = s.app.state.probed
        assert all(http is client for http, _, _ in probed), (
            f"get_http handed out {len({id(h) for h, _, _ in probed})} client(s) over 3 "
            f"requests: {watch.story()}. It returns the one client the lifespan made; it "
            "never makes one (that runs on every request)."
        )
        assert all(r is redis_box.made[0][0] for _, r, _ in probed), (
            "get_redis should hand every request the Redis client the lifespan made, "
            "and make none of its own."
        )
        limiters = {id(limiter) for _, _, limiter in probed}
        first = probed[0][2]
        assert len(limiters) == 1 and isinstance(first, asyncio.Semaphore), (
            f"get_limiter handed out {len(limiters)} different object(s) over 3 requests "
            f"({first!r}). One asyncio.Semaphore, made in the lifespan, serves every "
            "request of the app (one per request bounds nothing)."
        )
        assert first._value == 3, (
            f"The app's semaphore has {first._value} slots; settings.max_in_flight is 3."
        )
        assert len(watch.app_clients()) == 1 and len(redis_box.made) == 1, (
            f"After 3 requests: {watch.story()}, {len(redis_box.made)} Redis client(s). "
            "Nothing is made per request."
        )
    assert client.is_closed, f"After shutdown: {watch.story()}."


async def test_lifespan_each_app_and_each_run_has_its_own(
    tmp_path: Path, watch: Watch, redis_box: RedisBox, deadline: Deadline
) -> None:
    one = Shop(tmp_path, watch, redis_box, deadline)
    two = Shop(tmp_path, watch, redis_box, deadline)
    try:
        await one.start()
        await two.start()
        for s in (one, two):
            await s.request("GET", "/probe/state")
        (http1, _, limiter1), (http2, _, limiter2) = one.app.state.probed + two.app.state.probed
        assert http1 is not http2 and limiter1 is not limiter2, (
            "Two apps running at once share "
            + ("their httpx client" if http1 is http2 else "their semaphore")
            + ". Each app's lifespan makes its own, and keeps it in that app's state (the "
            "dict it yields, or app.state): never in a module-level variable."
        )
    finally:
        await two.stop()
        await one.stop()
    await one.start()  # the same app again, as a server that reloads
    try:
        await one.request("GET", "/probe/state")
        http3, _, limiter3 = one.app.state.probed[-1]
        which = "the first run's closed client" if http3 is http1 else "a closed client"
        assert http3 is not http1 and not http3.is_closed, (
            f"The app was started a second time, and its requests got {which}: "
            f"{watch.story()}. The lifespan makes fresh ones on every run."
        )
        assert limiter3 is not limiter1, (
            "The app was started a second time, and its requests got the first run's "
            "semaphore. It belongs to one run of the app (and its event loop): make it in "
            "the lifespan, not lazily on first use."
        )
    finally:
        await one.stop()
    left = one.leftovers()
    assert not left, f"After the apps shut down, they left open: {', '.join(left)}."


async def test_lifespan_closes_everything_when_the_app_is_cancelled(
    tmp_path: Path, watch: Watch, redis_box: RedisBox, deadline: Deadline
) -> None:
    """The server stops abruptly: the lifespan is cancelled at its yield, no shutdown."""
    s = Shop(tmp_path, watch, redis_box, deadline, suppliers={"alpha": Supplier()})
    await s.start()
    await s.request("GET", "/probe/state")
    assert s.client is not None and s.manager is not None
    await s.client.aclose()
    stop = RuntimeError("the server was killed")
    async with deadline(30, "Stopping the app abruptly (the lifespan cancelled)"):
        await s.manager.__aexit__(type(stop), stop, None)
    left = s.leftovers()
    assert not left, (
        f"The app was stopped abruptly (its lifespan was cancelled at the yield) and left "
        f"open: {', '.join(left)}. Code after a bare `yield` runs only on a clean shutdown: "
        "close everything in `finally` blocks (or `async with`, or an AsyncExitStack)."
    )


@pytest.mark.parametrize("failure", ["database", "redis"])
async def test_lifespan_cleans_up_when_startup_fails_half_way(
    failure: str, tmp_path: Path, watch: Watch, redis_box: RedisBox, deadline: Deadline
) -> None:
    s = Shop(tmp_path, watch, redis_box, deadline)
    if failure == "database":  # CREATE TABLE books will fail
        with closing(sqlite3.connect(s.path)) as db:
            db.executescript("CREATE TABLE other (x); CREATE INDEX books ON other (x);")
        expected: tuple[type[BaseException], ...] = (sa_exc.DatabaseError,)
        what = "the database already holds an index named 'books', so create_all fails"
    else:
        redis_box.broken = True
        expected = (redis.ConnectionError,)
        what = "new_redis(settings) raises redis.ConnectionError"
    manager = LifespanManager(s.app, startup_timeout=None, shutdown_timeout=None)
    watch.moment = "at startup"
    raised: BaseException | None = None
    try:
        async with deadline(30, "The app's startup"):
            await manager.__aenter__()
    except Exception as error:
        raise_a_todo(error)
        raised = error
    else:
        await manager.__aexit__(None, None, None)
    chain: list[BaseException] = []
    while raised is not None and raised not in chain and len(chain) < 10:
        chain.append(raised)
        raised = raised.__cause__ or raised.__context__
    raised = chain[0] if chain else None
    assert any(isinstance(error, expected) for error in chain), (
        f"At startup {what}; the startup should fail with that error, but "
        + (f"it raised {raised!r}." if raised else "the app started.")
        + " Let startup errors go up: the app must not run without its pieces."
    )
    left = s.leftovers()
    assert not left, (
        f"The startup failed half-way ({what}) and left open: {', '.join(left)}. Whatever "
        "the lifespan made before the failure must be closed: make each piece inside the "
        "`try` (or `async with`) of the one before, or use an AsyncExitStack."
    )


# ============================================ 3. the session and the repository ===========


async def test_session_commits_what_a_request_wrote(shop: Any) -> None:
    async with shop() as s:
        response = await s.request("POST", "/probe/write/ok")
        assert response.status_code == 200, (
            f"The tests' endpoint that adds a book through your repository answered "
            f"{response.status_code}: {response.text[:300]}"
        )
        book_id = response.json()["id"]
        assert isinstance(book_id, int), (
            f"BookRepository.add gave back a book without an id ({book_id!r}). "
            "`await session.flush()` after `session.add(book)` runs the INSERT and sets it."
        )
        rows = read_file(s.path)
        assert rows == [(book_id, "probe ok", "Probe", ISBN)], (
            f"After a request that added a book answered 200, the database file holds "
            f"{rows}. get_session commits when the request succeeds."
        )


@pytest.mark.parametrize("then", ["http", "error"])
async def test_session_rolls_back_when_the_endpoint_fails(then: str, shop: Any) -> None:
    async with shop() as s:
        if then == "http":
            response = await s.request("POST", "/probe/write/http")
            assert response.status_code == 418, (
                f"The tests' endpoint raised HTTPException(418) and the app answered "
                f"{response.status_code}: {response.text[:300]}. Let the error go on up "
                "from get_session: roll back, then `raise`."
            )
        else:
            with pytest.raises(ProbeError):
                await s.request("POST", "/probe/write/error")
        assert s.watch.in_transaction() == 0, (
            "An endpoint added a book through your repository, flushed it, and then "
            "failed; after the request, its session is still in its transaction (and "
            "holds the database's write lock). get_session must end it however the "
            "request ends: roll back on the error, and close the session (`async with "
            "sessions() as session:` around a try/except)."
        )
        rows = read_file(s.path)
        assert rows == [], (
            f"An endpoint added a book through your repository, flushed it, and then "
            f"failed ({'HTTPException' if then == 'http' else 'an error'}); the database "
            f"file holds {rows}. get_session rolls back when the endpoint raises (commit "
            "only after the yield returns normally, never in `finally`)."
        )
        response = await s.request("POST", "/probe/write/ok")
        assert response.status_code == 200, response.text[:300]
        assert [row[1] for row in read_file(s.path)] == ["probe ok"], (
            "After a failed request, a good one should be committed as usual."
        )


async def test_session_rolls_back_when_the_request_is_cancelled(shop: Any) -> None:
    async with shop() as s:
        task = asyncio.create_task(s.request("POST", "/probe/write/wait"))
        await asyncio.sleep(1)  # the book is written (flushed); the endpoint still works
        if task.done():
            await task  # the request's own error (a TODO too), as it is
            pytest.fail("The tests' endpoint that waits for ever answered.")
        task.cancel()  # the client hung up, or the server shuts down
        async with s.deadline(30, "the request, after it was cancelled"):
            await asyncio.wait([task])
        assert s.watch.in_transaction() == 0, (
            "A request that had written a book was cancelled; afterwards its session is "
            "still in its transaction. get_session must end it however the request ends: "
            "`async with sessions() as session:` closes it (and rolls back)."
        )
        rows = read_file(s.path)
        assert rows == [], (
            f"A request that had added a book was cancelled before it finished, and the "
            f"database file holds {rows}: its half-done work was committed. Commit only "
            "when the yield returns normally (never in `finally`); a cancel is not an "
            "Exception (`except Exception:` does not see it), so roll back in `except "
            "BaseException:` or let `async with sessions()` do it."
        )


async def test_session_one_per_request_shared_with_the_repository(shop: Any) -> None:
    async with shop() as s:
        response = await s.request("POST", "/probe/write/ok")
        assert response.status_code == 200, response.text[:300]
        assert response.json()["same_session"] is True, (
            "In one request, the book your repository added is not in the session the "
            "endpoint got from SessionDep: two sessions for one request. FastAPI calls "
            "get_session once per request and gives everyone that session."
        )
        left = len(s.watch.open_connections)
        assert left <= 1, (
            f"{left} database connections are open between requests. Each request's "
            "session must be closed when its request is over (`async with sessions() as "
            "session:` around the yield), so its connection goes back to the pool."
        )
        for then in ("ok", "http"):
            await s.request("POST", f"/probe/write/{then}")
        unclosed = s.watch.never_closed()
        assert unclosed == 0, (
            f"After 3 requests (2 good, 1 failed), {unclosed} of their sessions were never "
            "closed. get_session closes the session it made however the request ends: "
            "`async with sessions() as session:` around the try/yield (a commit or a "
            "rollback alone leaves the session open, with everything it loaded)."
        )


async def test_session_many_requests_at_once_each_get_their_own(shop: Any) -> None:
    async with shop() as s:
        responses = await asyncio.gather(*(s.request("POST", "/probe/write/ok") for _ in range(6)))
        statuses = [r.status_code for r in responses]
        assert statuses == [200] * 6, (
            f"6 requests that write at the same time answered {statuses}: "
            f"{[r.text[:200] for r in responses if r.status_code != 200][:1]}. Every "
            "request needs a session of its own (one session can't serve requests at the "
            "same time)."
        )
        rows = read_file(s.path)
        assert len(rows) == 6, f"After 6 books were added at once, the file holds {rows}."


async def test_repository_gets_and_deletes_books(shop: Any) -> None:
    async with shop() as s:
        book_id = (await s.request("POST", "/probe/write/ok")).json()["id"]
        found = (await s.request("GET", f"/probe/book/{book_id}")).json()
        assert found == {"found": [book_id, "probe ok"]}, (
            f"BookRepository.get({book_id}) gave {found['found']}; expected the book."
        )
        missing = (await s.request("GET", "/probe/book/999")).json()
        assert missing == {"found": None}, (
            f"BookRepository.get(999) (no such book) gave {missing['found']}; expected None."
        )
        gone = (await s.request("DELETE", "/probe/book/999")).json()
        assert gone == {"deleted": False}, (
            f"BookRepository.delete(999) (no such book) gave {gone['deleted']}; expected False."
        )
        deleted = (await s.request("DELETE", f"/probe/book/{book_id}")).json()
        assert deleted == {"deleted": True}, (
            f"BookRepository.delete({book_id}) gave {deleted['deleted']}; expected True."
        )
        assert read_file(s.path) == [], (
            f"After BookRepository.delete({book_id}) the file still holds the book: "
            "`await session.delete(book)` (and flush); get_session commits."
        )
        again = (await s.request("DELETE", f"/probe/book/{book_id}")).json()
        assert again == {"deleted": False}, "Deleting a book twice: the second time gives False."


# ============================================ 4. new books and the webhook ================


async def test_books_post_answers_201_and_commits_the_book(shop: Any) -> None:
    async with shop() as s:
        response = await s.request("POST", "/books", json=BOOK)
        assert response.status_code == 201, (
            f"POST /books answered {response.status_code}: {response.text[:300]}. A new "
            "book answers 201 Created."
        )
        body = response.json()
        assert isinstance(body.get("id"), int) and {**body, "id": 0} == {**BOOK, "id": 0}, (
            f"POST /books answered {body}; expected the new book with its id (a BookOut)."
        )
        assert read_file(s.path) == [(body["id"], *BOOK.values())], (
            "After POST /books answered 201 the book should be in the database file."
        )
        second = await s.add_book(OTHER)
        assert second != body["id"], "Two new books got the same id."
        bad = await s.request("POST", "/books", json={**BOOK, "isbn": "12"})
        assert bad.status_code == 422, f"A book with the ISBN '12' answered {bad.status_code}."
        assert len(s.net.events) == 2, (
            f"After two new books and a refused one (422), the webhook got "
            f"{len(s.net.events)} calls; expected one per new book."
        )
    assert read_file(s.path) == [(body["id"], *BOOK.values()), (second, *OTHER.values())]


async def test_webhook_is_told_after_the_response_with_the_request_id(
    shop: Any, watch: Watch
) -> None:
    async with shop() as s:
        s.net.webhook_seconds = 2.0
        response = await s.request(
            "POST", "/books", json=BOOK, key="new", headers={"X-Request-ID": "order-66"}
        )
        assert response.status_code == 201, response.text[:300]
        book = response.json()
        assert s.sent_at.get("new") == 0, (
            f"The 201 for POST /books was sent after {s.sent_at.get('new')} s; the webhook "
            "takes 2 s, and the client must not wait for it. Add the notification with "
            "background_tasks.add_task(...), which runs after the response."
        )
        events = s.net.events
        assert len(events) == 1, (
            f"After one new book the webhook got {len(events)} calls; expected one "
            f"POST {WEBHOOK}/events, from a background task of the request."
        )
        call = events[0]
        assert call.what == "POST /events" and call.body == {
            "event": "book.created",
            "book": book,
        }, (
            f"The webhook got {call.what} with {call.body}; expected POST /events with "
            f"{ {'event': 'book.created', 'book': book} }."
        )
        assert call.headers.get("x-request-id") == "order-66", (
            f"The webhook call carried X-Request-ID {call.headers.get('x-request-id')!r}; "
            "the request's id was 'order-66'. Give the background task the request's id "
            "(RequestIdDep) and send it along."
        )
        assert s.over_at.get("new") == 2.0, (
            f"The request was over at {s.over_at.get('new')} s; its background task (2 s "
            "of webhook) runs after the response, as part of the request: not in a task "
            "of its own (asyncio.create_task), which nobody waits for."
        )
        client = watch.app_clients()
        assert len(client) == 1 and watch.sent_by(client[0]) == ["POST hooks.test/events"], (
            f"The webhook call should go through the app's shared client: {watch.story()}."
        )


@pytest.mark.parametrize("failure", ["500", "connect"])
async def test_webhook_failure_is_logged_and_never_raised(
    failure: str, shop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with shop() as s:
        s.net.webhook_fails = failure
        try:
            response = await s.request("POST", "/books", json=BOOK, key="new")
        except httpx.HTTPError as error:
            pytest.fail(
                f"The webhook failed ({failure}) and {error!r} escaped from the background "
                "task to the server. Nobody can catch it there: catch httpx.HTTPError in the "
                "task (raise_for_status turns a 500 into one) and log it."
            )
        assert response.status_code == 201, (
            f"With the webhook failing ({failure}), POST /books answered "
            f"{response.status_code}: {response.text[:300]}. The book was added: 201."
        )
        assert len(s.net.events) == 1, f"The webhook got {len(s.net.events)} calls."
        logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert logged, (
            f"The webhook failed ({failure}) and nothing was logged at WARNING or above. "
            "A background task's failure is seen only in the log: logger.warning(...) or "
            "logger.exception(...). A 500 is a failure too: response.raise_for_status()."
        )
        later = await s.request("GET", f"/probe/book/{response.json()['id']}")
        assert later.json()["found"], "After a failed webhook, the book is still there."


async def test_webhook_told_once_per_new_book_and_never_for_a_refused_one(shop: Any) -> None:
    async with shop() as s:
        book_id = await s.add_book()
        assert len(s.net.events) == 1, (
            f"After one new book the webhook got {len(s.net.events)} calls; expected one."
        )
        response = await s.request("POST", "/books", json={**BOOK, "isbn": "12"})
        assert response.status_code == 422, response.text[:300]
        assert len(s.net.events) == 1, (
            f"A refused book (422) was announced to the webhook: {s.net.events[1:]}."
        )
        second = await s.add_book(OTHER)
        bodies = [call.body["book"]["id"] for call in s.net.events if call.body]
        assert bodies == [book_id, second], (
            f"Two new books, {book_id} and {second}, were announced as {bodies}: each "
            "request's background task tells the webhook about its own book."
        )
        assert [row[0] for row in read_file(s.path)] == [book_id, second]


# ============================================ 5. the cache ================================


@pytest.mark.parametrize("ttl", [300, 45])
async def test_cache_miss_reads_the_database_once_then_redis_serves_it(
    ttl: int, shop: Any, watch: Watch
) -> None:
    async with shop(cache_ttl=ttl) as s:
        book_id, expected = await s.seed("Emma")
        before = watch.selects
        first = await s.request("GET", f"/books/{book_id}")
        assert first.status_code == 200, (
            f"GET /books/{book_id} answered {first.status_code}: {first.text[:300]}"
        )
        assert first.json() == expected, f"GET /books/{book_id} answered {first.json()}."
        assert watch.selects - before >= 1, "The first GET of a book never read the database."
        ttls = await s.ttls()
        assert len(ttls) == 1, (
            f"After the first GET /books/{book_id}, Redis holds {sorted(ttls)}; expected one "
            "key for the book (cache_key(book_id))."
        )
        key, left = next(iter(ttls.items()))
        assert left > 0, (
            f"The cached book {key!r} has no expiry: it would stay in Redis forever. "
            "`await redis.set(key, text, ex=settings.cache_ttl)`."
        )
        assert ttl * 1000 - 5000 < left <= ttl * 1000, (
            f"The cached book expires in {left / 1000:g} s; settings.cache_ttl is {ttl} s. "
            "Use the setting (`ex=` counts seconds)."
        )
        middle = watch.selects
        for _ in range(3):
            again = await s.request("GET", f"/books/{book_id}")
            assert again.status_code == 200 and again.json() == expected, (
                f"GET /books/{book_id} from the cache answered {again.status_code} "
                f"{again.text[:300]}; expected {expected}, the same as from the database."
            )
        assert watch.selects == middle, (
            f"Three more GET /books/{book_id} ran {watch.selects - middle} SELECT(s) on the "
            "books table; with the book in Redis they should run none. Look in Redis first, "
            "and go to the repository only on a miss."
        )


async def test_cache_hit_does_not_renew_the_ttl(shop: Any) -> None:
    async with shop() as s:
        book_id, _ = await s.seed("Emma")
        await s.request("GET", f"/books/{book_id}")
        keys = await s.box.admin.keys("*")
        assert len(keys) == 1, f"After a GET of a book, Redis holds {keys}; expected one key."
        await s.box.admin.expire(keys[0], 10)  # as if it had been cached a while ago
        response = await s.request("GET", f"/books/{book_id}")
        assert response.status_code == 200, response.text[:300]
        left = await s.box.admin.pttl(keys[0])
        assert 0 < left <= 10_000, (
            f"The cached book had 10 s to live; after a hit it has {left / 1000:g} s. A hit "
            "must not renew the TTL (no set, getex or expire on a hit): a book changed "
            "behind the cache's back would then be served stale for ever."
        )


async def test_cache_never_stores_a_404(shop: Any) -> None:
    async with shop() as s:
        response = await s.request("GET", "/books/1")
        assert response.status_code == 404, (
            f"GET /books/1 with no books at all answered {response.status_code}: "
            f"{response.text[:300]}."
        )
        keys = await s.box.admin.keys("*")
        assert keys == [], (
            f"After a 404, Redis holds {keys}. Cache only books that exist: a cached 'not "
            "found' hides the book once it is added."
        )
        book_id, expected = await s.seed("Emma")
        found = await s.request("GET", f"/books/{book_id}")
        assert found.status_code == 200 and found.json() == expected, (
            f"GET /books/{book_id} after the book was added answered {found.status_code} "
            f"{found.text[:300]}."
        )


async def test_cache_delete_invalidates_the_cached_book(shop: Any) -> None:
    async with shop() as s:
        book_id, _ = await s.seed("Emma")
        other_id, other_book = await s.seed("Persuasion")
        for known in (book_id, other_id):
            assert (await s.request("GET", f"/books/{known}")).status_code == 200
        response = await s.request("DELETE", f"/books/{book_id}")
        assert response.status_code == 204, (
            f"DELETE /books/{book_id} answered {response.status_code}: {response.text[:300]}"
        )
        after = await s.request("GET", f"/books/{book_id}")
        assert after.status_code == 404, (
            f"Book {book_id} was deleted (204), and GET /books/{book_id} answered "
            f"{after.status_code} {after.text[:200]}: the stale copy in Redis. DELETE "
            "removes the book's key from Redis too."
        )
        keys = await s.box.admin.keys("*")
        assert len(keys) == 1, (
            f"After deleting one of two cached books, Redis holds {keys}. Delete only "
            "that book's key: the other cached book is still good."
        )
        other = await s.request("GET", f"/books/{other_id}")
        assert other.status_code == 200 and other.json() == other_book
        for url in [f"/books/{book_id}", "/books/999"]:
            gone = await s.request("DELETE", url)
            assert gone.status_code == 404, (
                f"DELETE {url} (no such book, or deleted already) answered "
                f"{gone.status_code}: {gone.text[:200]}. BookRepository.delete gives False "
                "for a book it doesn't have: answer 404."
            )


# ============================================ 6. the offers ===============================


def offer(name: str, price: int | None = None, status: str = "ok") -> dict[str, Any]:
    return {"supplier": name, "status": status, "price_cents": price}


def check_offers(response: httpx.Response, url: str, net: Network) -> dict[str, Any]:
    assert response.status_code == 200, (
        f"GET {url} answered {response.status_code}: {response.text[:300]}. A failing or "
        f"slow supplier never fails the request. Calls: {net.story()}."
    )
    body: dict[str, Any] = response.json()
    return body


async def test_offers_ask_every_supplier_at_once_and_pick_the_cheapest(
    shop: Any, looptime: Any, timeline: Any
) -> None:
    suppliers = {
        "alpha": Supplier(price=1299, seconds=1.0),
        "beta": Supplier(price=999, seconds=1.5),
        "gamma": Supplier(price=999, seconds=0.5),
        "delta": Supplier(price=1500, seconds=1.0),
    }
    async with shop(suppliers=suppliers, timeline=timeline) as s:
        book_id = await s.add_book()
        url = f"/books/{book_id}/offers"
        start = float(looptime)
        response = await s.request("GET", url)
        took = round(float(looptime) - start, 6)
        body = check_offers(response, url, s.net)
        expected = {
            "book_id": book_id,
            "offers": [offer(n, sup.price) for n, sup in suppliers.items()],
            "best": offer("beta", 999),
        }
        assert body == expected, (
            f"GET {url} answered {body}; expected {expected}: one offer per supplier in "
            'the order of settings.suppliers, and the cheapest "ok" one as best (the '
            "first of them on a tie)."
        )
        assert sorted(c.what for c in s.net.calls) == sorted(f"{n}({ISBN})" for n in suppliers), (
            f"The suppliers got {s.net.story()}; expected one GET "
            "{base}/prices/{isbn} each, with the book's ISBN."
        )
        assert s.net.peak == 4 and took == 1.5, (
            f"GET {url} took {took:g} s with at most {s.net.peak} supplier call(s) at once. "
            "The slowest supplier takes 1.5 s: asked at the same time (asyncio.gather or a "
            "TaskGroup), the request takes 1.5 s; one after another, 4 s. "
            f"Calls: {s.net.story()}."
        )


async def test_offers_a_failing_or_slow_supplier_never_fails_the_request(
    shop: Any, looptime: Any, timeline: Any
) -> None:
    suppliers = {
        "good": Supplier(price=1200, seconds=1.0),
        "broken": Supplier(fails="500"),
        "refusing": Supplier(fails="connect"),
        "garbled": Supplier(fails="garbage"),
        "silent": Supplier(fails="hang"),
    }
    async with shop(suppliers=suppliers, timeline=timeline, supplier_timeout=2.5) as s:
        book_id = await s.add_book()
        url = f"/books/{book_id}/offers"
        start = float(looptime)
        try:
            async with asyncio.timeout(30):
                response = await s.request("GET", url)
        except TimeoutError:
            pytest.fail(
                f"GET {url} was still waiting after 30 s for a supplier that never answers "
                f"(settings.supplier_timeout is 2.5 s). Calls: {s.net.story()}. Give each "
                "call a deadline for the whole call: `async with asyncio.timeout(seconds):` "
                "(httpx's own timeout counts each network read separately, and a fake or "
                "slow-dripping upstream never trips it)."
            )
        took = round(float(looptime) - start, 6)
        body = check_offers(response, url, s.net)
        expected = [
            offer("good", 1200),
            offer("broken", status="error"),
            offer("refusing", status="error"),
            offer("garbled", status="error"),
            offer("silent", status="timeout"),
        ]
        assert body.get("offers") == expected, (
            f"GET {url} answered the offers {body.get('offers')}; expected {expected}. A "
            '500, a refused connection or a body that is not JSON is "error"; a supplier '
            'still silent after settings.supplier_timeout is "timeout". '
            f"Calls: {s.net.story()}."
        )
        assert body.get("best") == offer("good", 1200), f"best is {body.get('best')}."
        assert took == 2.5, (
            f"GET {url} took {took:g} s; a supplier that never answers is given up after "
            "settings.supplier_timeout (2.5 s), while the others answer."
        )
        silent = [c for c in s.net.calls if c.what.startswith("silent")]
        assert silent and silent[0].outcome == "cancelled", (
            f"The silent supplier's call was not cancelled at its timeout: {s.net.story()}. "
            "asyncio.timeout cancels the call it wraps."
        )


async def test_offers_with_no_good_supplier_have_no_best(shop: Any) -> None:
    async with shop(suppliers={"broken": Supplier(fails="500")}) as s:
        book_id = await s.add_book()
        body = check_offers(await s.request("GET", f"/books/{book_id}/offers"), "offers", s.net)
        assert body == {
            "book_id": book_id,
            "offers": [offer("broken", status="error")],
            "best": None,
        }, f"With the only supplier broken, the offers were {body}; best is None."


async def test_offers_for_an_unknown_book_are_a_404_and_ask_nobody(shop: Any) -> None:
    async with shop(suppliers={"alpha": Supplier()}) as s:
        response = await s.request("GET", "/books/42/offers")
        assert response.status_code == 404, (
            f"GET /books/42/offers (no such book) answered {response.status_code}: "
            f"{response.text[:300]}. Look the book up first (its ISBN is what suppliers "
            "are asked about): 404 when there is none."
        )
        assert s.net.calls == [], f"Suppliers were asked about no book: {s.net.story()}."


@pytest.mark.parametrize("limit", [4, 2])
async def test_offers_at_most_limit_calls_in_flight_across_requests(
    limit: int, shop: Any, looptime: Any, timeline: Any
) -> None:
    suppliers = {name: Supplier(seconds=1.0) for name in ("a", "b", "c")}
    async with shop(suppliers=suppliers, timeline=timeline, max_in_flight=limit) as s:
        book_id = await s.add_book()
        url = f"/books/{book_id}/offers"
        start = float(looptime)
        responses = await asyncio.gather(*(s.request("GET", url) for _ in range(2)))
        took = round(float(looptime) - start, 6)
        for response in responses:
            body = check_offers(response, url, s.net)
            assert [o["status"] for o in body["offers"]] == ["ok"] * 3, (
                f"With every slot's call counted from when it got its slot, no supplier "
                f"should time out: {body}. Start the timeout inside `async with limiter:`."
            )
        assert s.net.peak == limit, (
            f"Two requests at once, each asking 3 suppliers, had at most {s.net.peak} "
            f"supplier calls in flight; settings.max_in_flight is {limit}. One semaphore, "
            "made in the lifespan, bounds every request of the app together (one per "
            "request bounds nothing; none at all lets all 6 go). "
            f"Calls: {s.net.story()}."
        )
        expected = -(-6 // limit)
        assert took == expected, (
            f"6 calls of 1 s through {limit} slots took {took:g} s; expected {expected} s: "
            "every slot busy while calls wait."
        )


async def test_offers_each_app_has_its_own_limit(
    tmp_path: Path, watch: Watch, redis_box: RedisBox, deadline: Deadline, looptime: Any
) -> None:
    suppliers = {name: Supplier(seconds=1.0) for name in ("a", "b")}
    one = Shop(tmp_path, watch, redis_box, deadline, suppliers=suppliers, max_in_flight=2)
    two = Shop(tmp_path, watch, redis_box, deadline, suppliers=suppliers, max_in_flight=2)
    try:
        await one.start()
        await two.start()
        first = await one.add_book()
        second = await two.add_book()
        start = float(looptime)
        both = await asyncio.gather(
            one.request("GET", f"/books/{first}/offers"),
            two.request("GET", f"/books/{second}/offers"),
        )
        took = round(float(looptime) - start, 6)
        for shop_, response in zip((one, two), both, strict=True):
            check_offers(response, "offers", shop_.net)
        assert took == 1.0, (
            f"Two apps, each with max_in_flight=2, each asked 2 suppliers at the same time; "
            f"it took {took:g} s instead of 1 s. Each app has its own semaphore, made in its "
            "lifespan: not one at module level shared by every app."
        )
    finally:
        await two.stop()
        await one.stop()
    left = one.leftovers()
    assert not left, f"After both apps shut down, they left open: {', '.join(left)}."


async def test_offers_the_timeout_starts_once_the_call_has_a_slot(
    shop: Any, looptime: Any, timeline: Any
) -> None:
    suppliers = {"a": Supplier(price=500, seconds=1.5), "b": Supplier(price=600, seconds=1.5)}
    async with shop(
        suppliers=suppliers, timeline=timeline, max_in_flight=1, supplier_timeout=2.0
    ) as s:
        book_id = await s.add_book()
        url = f"/books/{book_id}/offers"
        start = float(looptime)
        body = check_offers(await s.request("GET", url), url, s.net)
        took = round(float(looptime) - start, 6)
        assert s.net.peak == 1, (
            f"With settings.max_in_flight=1, {s.net.peak} supplier calls were in flight at "
            "once. The app's one semaphore is made with settings.max_in_flight, in the "
            f"lifespan. Calls: {s.net.story()}."
        )
        assert body["offers"] == [offer("a", 500), offer("b", 600)] and took == 3.0, (
            f"With one slot, two suppliers of 1.5 s each and a timeout of 2 s, GET {url} "
            f"answered {body['offers']} after {took:g} s; expected both ok after 3 s. The "
            "timeout is each call's own, counted once it holds its slot: `async with "
            "limiter:` outside, `async with asyncio.timeout(...)` inside (one timeout "
            "around all the calls, or around the wait for a slot, cuts the second off). "
            f"Calls: {s.net.story()}."
        )


async def test_offers_a_cancelled_request_leaves_nothing_running(shop: Any, timeline: Any) -> None:
    suppliers = {n: Supplier(seconds=3.0) for n in ("a", "b", "c")}
    async with shop(
        suppliers=suppliers, timeline=timeline, max_in_flight=2, supplier_timeout=5.0
    ) as s:
        book_id = await s.add_book()
        zero = s.net.now()
        task = asyncio.create_task(s.request("GET", f"/books/{book_id}/offers"))
        await asyncio.sleep(1)
        task.cancel()  # the client hung up
        async with s.deadline(30, "the offers request, after it was cancelled"):
            await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  (the request's own error, a TODO too)
        running = [str(c) for c in s.net.running()]
        swallowed = not task.cancelled()
        await asyncio.sleep(10)  # anything left over shows itself now
        late = [str(c) for c in s.net.calls if c.start > zero + 1]
        assert not running and not late, (
            f"GET /books/{book_id}/offers was cancelled after 1 s; still running after it "
            f"ended: {running}; started later: {late}. Run the supplier calls where the "
            "cancel reaches them (asyncio.gather or a TaskGroup, awaited in the endpoint), "
            "not in tasks of their own that nobody cancels."
        )
        assert not swallowed, (
            f"GET /books/{book_id}/offers was cancelled (the client hung up), but it went on "
            "and finished anyway. Let CancelledError through: never catch it (a bare "
            "`except:` or `except BaseException:`) in ask_supplier or read_offers."
        )
        try:
            async with asyncio.timeout(30):
                again = await s.request("GET", f"/books/{book_id}/offers")
        except TimeoutError:
            pytest.fail(
                "After a cancelled offers request, the next one waited for ever for a slot "
                "of the semaphore: the cancelled calls kept theirs. `async with limiter:` "
                "gives a slot back however the call ends (acquire() needs a release() in "
                "`finally`)."
            )
        check_offers(again, "offers after a cancelled request", s.net)


async def test_offers_and_the_webhook_go_through_the_one_shared_client(
    shop: Any, watch: Watch
) -> None:
    async with shop(suppliers={"alpha": Supplier(), "beta": Supplier()}) as s:
        made = watch.app_clients()
        assert len(made) == 1, (
            f"Right after startup: {watch.story()}. The lifespan makes exactly one "
            "httpx.AsyncClient, before its yield: the app's connection pool."
        )
        client = made[0]
        assert not client.is_closed, (
            f"Right after startup the app's client is closed already: {watch.story()}. "
            "Keep it open until shutdown: yield inside its `async with` block."
        )
        book_id = await s.add_book()
        for _ in range(3):
            response = await s.request("GET", f"/books/{book_id}/offers")
            assert response.status_code == 200, (
                f"GET /books/{book_id}/offers answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        assert len(watch.app_clients()) == 1, (
            f"After a new book and three offers requests: {watch.story()}. A client per "
            "request (or per call) throws the connection pool away each time. Make one in "
            "the lifespan and hand it out with a dependency."
        )
        senders = {id(sender) for sender, _ in watch.sent if sender in watch.app_clients()}
        assert senders == {id(client)} and len(watch.sent_by(client)) == 7, (
            f"The 6 supplier calls and the webhook call should all go through the client "
            f"made at startup: {watch.story()}."
        )
        assert len(s.box.made) == 1, (
            f"The app made {len(s.box.made)} Redis clients; the lifespan makes one "
            "(new_redis(settings)) for the whole life of the app."
        )
    assert client.is_closed, f"After shutdown: {watch.story()}."
