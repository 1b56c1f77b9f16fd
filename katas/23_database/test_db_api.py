"""Kata 23 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sysconfig
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import event, func, inspect, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool
from sqlalchemy.util import await_, greenlet_spawn

# isort: split
# Your module after SQLAlchemy and before FastAPI: each import takes its own moment.
from db_api import POOL_SIZE, Account, SessionDep, create_app
from fastapi import FastAPI, HTTPException

# aiosqlite runs SQLite in a worker thread, in real time. Virtual time would jump ahead
# to the next timer while that thread works, and fire timeouts that never happened: these
# tests run on the real clock, and every step is short.
pytestmark = pytest.mark.looptime(False)

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]
STEP = 2.0  # real seconds any one step may take before it counts as stuck

_real_sqlite3_connect = sqlite3.connect  # the tests' own reads of the file, after shutdown


class ProbeError(Exception):
    """Raised by the tests' own endpoint when it fails after writing."""


class SqliteOnTheLoopError(AssertionError):
    """Raised inside learner code that calls sqlite3 on the event loop's thread."""


# --- What SQLAlchemy did: its own events, heard on the classes ---------------------------


@dataclass
class Journal:
    """Every session and connection of the test, from SQLAlchemy's events.

    Listening on the classes (Session, Pool, Engine) hears every session and engine the
    app makes, however it makes them.
    """

    entries: list[str] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)  # in the order they began
    commits: list[Session] = field(default_factory=list)
    checked_out: int = 0
    connect_attempts: int = 0
    closed: int = 0
    open_connections: list[Any] = field(default_factory=list)

    def name(self, session: Session) -> str:
        for number, known in enumerate(self.sessions, 1):
            if known is session:
                return f"session {number}"
        return "a session"

    def note(self, entry: str) -> None:
        self.entries.append(entry)

    def story(self, first: int = 0) -> str:
        return "; ".join(self.entries[first:]) or "nothing happened"

    def began(self, session: Session, *_: Any) -> None:
        if not any(known is session for known in self.sessions):
            self.sessions.append(session)
        self.note(f"{self.name(session)} began")

    def committed(self, session: Session) -> None:
        self.commits.append(session)
        self.note(f"{self.name(session)} committed")

    def rolled_back(self, session: Session) -> None:
        self.note(f"{self.name(session)} rolled back")

    def checkout(self, *_: Any) -> None:
        self.checked_out += 1

    def checkin(self, *_: Any) -> None:
        self.checked_out -= 1

    def do_connect(self, *_: Any) -> None:
        self.connect_attempts += 1

    def connected(self, dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")  # a test database: no waiting for the disk
        cursor.execute("PRAGMA reverse_unordered_selects=ON")  # no ORDER BY: no order
        cursor.close()
        self.open_connections.append(dbapi_connection)  # (a failed PRAGMA: never opened)

    def close(self, dbapi_connection: Any, _record: Any) -> None:
        self.closed += 1
        self.open_connections = [c for c in self.open_connections if c is not dbapi_connection]


_LISTENERS: list[tuple[Any, str, str]] = [
    (Session, "after_begin", "began"),
    (Session, "after_commit", "committed"),
    (Session, "after_rollback", "rolled_back"),
    (Pool, "checkout", "checkout"),
    (Pool, "checkin", "checkin"),
    (Pool, "connect", "connected"),
    (Pool, "close", "close"),
    (Engine, "do_connect", "do_connect"),
]


@pytest.fixture
def journal() -> Iterator[Journal]:
    heard = Journal()
    for target, name, method in _LISTENERS:
        event.listen(target, name, getattr(heard, method))
    yield heard
    for target, name, method in _LISTENERS:
        event.remove(target, name, getattr(heard, method))


@pytest.fixture(autouse=True)
def _no_sqlite3_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A blocking sqlite3 call on the event loop's thread fails the test.

    aiosqlite calls sqlite3 from its own worker thread (no event loop runs there): that is
    allowed. The same call from a coroutine, on the loop's thread, stops every request.
    """
    calls: list[str] = []

    def guarded_connect(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread (aiosqlite's): fine
            return _real_sqlite3_connect(*args, **kwargs)
        calls.append(f"sqlite3.connect({args[0] if args else ''!r})")
        raise SqliteOnTheLoopError(
            f"{calls[-1]} was called on the event loop's thread. The sqlite3 module blocks: "
            "while it reads or writes the file, no other request runs. Go through the "
            "async engine (sqlite+aiosqlite) and the request's AsyncSession instead."
        )

    monkeypatch.setattr(sqlite3, "connect", guarded_connect)
    monkeypatch.setattr(sqlite3.dbapi2, "connect", guarded_connect)
    yield
    assert not calls, (
        f"Your code called {calls[0]} inside a coroutine: a blocking call that stops the "
        "event loop. Use the async engine and the request's AsyncSession, never sqlite3."
    )


# --- The tests' own endpoints, added to your app: they use SessionDep like yours ---------


@dataclass
class Probe:
    """What the tests' own endpoints saw, and the events that let them go on."""

    sessions: list[AsyncSession] = field(default_factory=list)
    asked: int = 0
    holding: int = 0
    peak_holding: int = 0
    written: asyncio.Event = field(default_factory=asyncio.Event)
    all_in: asyncio.Event = field(default_factory=asyncio.Event)  # 8 asked, POOL_SIZE hold
    release: asyncio.Event = field(default_factory=asyncio.Event)
    barrier: asyncio.Barrier = field(default_factory=lambda: asyncio.Barrier(4))

    def count_in(self) -> None:
        if self.asked >= 8 and self.holding >= POOL_SIZE:
            self.all_in.set()


def add_probes(app: FastAPI, probe: Probe) -> None:
    async def write(then: str, session: SessionDep) -> dict[str, Any]:
        """Adds an account, writes it to the database (flush), then ends as `then` says."""
        probe.sessions.append(session)
        account = Account(owner=f"probe {then}", balance=1)
        session.add(account)
        await session.flush()  # the INSERT has run: only the transaction's end decides
        probe.written.set()
        if then == "http":
            raise HTTPException(status_code=418, detail="changed my mind")
        if then == "error":
            raise ProbeError("the endpoint failed after it had written")
        if then == "wait":
            await asyncio.Event().wait()  # until the request is cancelled
        return {"id": account.id}

    async def together(session: SessionDep) -> dict[str, int]:
        """Reads on its session, then waits until 4 requests are here at the same time."""
        probe.sessions.append(session)
        count = await session.scalar(select(func.count()).select_from(Account))
        await probe.barrier.wait()
        return {"accounts": int(count or 0)}

    async def hold(session: SessionDep) -> dict[str, bool]:
        """Takes a connection from the pool and keeps it until the test says so."""
        probe.sessions.append(session)
        probe.asked += 1
        probe.count_in()
        await session.connection()
        probe.holding += 1
        probe.peak_holding = max(probe.peak_holding, probe.holding)
        probe.count_in()
        try:
            await probe.release.wait()
        finally:
            probe.holding -= 1
        return {"held": True}

    app.add_api_route("/probe/write", write, methods=["POST"])
    app.add_api_route("/probe/together", together, methods=["GET"])
    app.add_api_route("/probe/hold", hold, methods=["GET"])


# --- Calling your app: a deadline, advice for SQLAlchemy's typical errors -----------------

_LIBRARIES = tuple({sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")})


def your_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback of an error raised in the app, without the frames inside SQLAlchemy,
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


def advice_for(error: Exception, what: str) -> str | None:
    """What a typical SQLAlchemy error means, in the words of this kata; None: no advice."""
    text = str(error).split("\n")[0]
    if isinstance(error, sa_exc.MissingGreenlet) or "MissingGreenlet" in str(error):
        return (
            f"{what}: an attribute was loaded lazily, outside an await (MissingGreenlet). "
            "After a commit, SQLAlchemy expires the objects it loaded, and reading one "
            "then needs the database again. Make the sessionmaker with "
            "expire_on_commit=False, and let get_session do the commit."
        )
    if isinstance(error, sa_exc.PendingRollbackError):
        return (
            f"{what} ran on a session that an earlier failed request had left in a broken "
            "transaction. Each request needs a new session of its own, rolled back when "
            "its request fails."
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
            f"{what} failed: {text}. The lifespan must create the tables at startup: "
            "`await conn.run_sync(Base.metadata.create_all)` in `async with "
            "engine.begin() as conn:`. (On ':memory:', every new connection opens a new, "
            "empty database: all sessions must share one, with poolclass=StaticPool.)"
        )
    if isinstance(error, sa_exc.OperationalError) and "locked" in text:
        return (
            f"{what} found the database locked: an earlier transaction still holds it. "
            "Every request's session must end its transaction (commit or roll back) and "
            "be closed."
        )
    if "('response', 'id')" in str(error) and "'input': None" in str(error):
        return (
            f"{what} answered an object without an id (None). The id comes from the "
            "database when the INSERT runs: `await session.flush()` after `session.add()`."
        )
    if "('response',)" in str(error) and "'input': None" in str(error):
        return (
            f"{what} answered None where an object was expected. When session.get finds "
            "no row it gives back None: raise HTTPException with 404 instead."
        )
    if (isinstance(error, UnboundLocalError) and "response" in text) or (
        "Response not awaited" in text
    ):
        return (
            f"{what}: the endpoint raised an error, and get_session caught it at the yield "
            "without raising it again, so FastAPI had no response to send. Roll back, then "
            "`raise`: the error must go on up."
        )
    if isinstance(error, TypeError) and "pool_size" in text and "StaticPool" in text:
        return (
            f"{what} failed: {text} An in-memory database lives inside one connection "
            "that every session shares: poolclass=StaticPool, and no pool_size."
        )
    return None


def fail_or_raise(error: BaseException, what: str) -> NoReturn:
    """An error from your app, as advice if it is a typical one, else with your frames."""
    message = advice_for(error, what) if isinstance(error, Exception) else None
    if message is not None:
        raise pytest.fail.Exception(message) from None
    raise error.with_traceback(your_frames(error.__traceback__)) from None


async def finish(tasks: list[asyncio.Task[httpx.Response]], what: str) -> list[httpx.Response]:
    """Waits for requests sent at the same time. The first error among them is raised;
    requests still running after STEP seconds are cancelled and counted as stuck."""
    done, pending = await asyncio.wait(tasks, timeout=STEP)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:
        if task in done and not task.cancelled() and task.exception() is not None:
            fail_or_raise(task.exception() or Exception(), what)
    if pending or any(task.cancelled() for task in tasks):
        raise Stuck(sum(1 for task in tasks if task.cancelled()))
    return [task.result() for task in tasks]


class Stuck(Exception):
    """Some requests sent at the same time never finished."""


@asynccontextmanager
async def step(deadline: Deadline, what: str) -> AsyncIterator[None]:
    """One call into your app, under a deadline. A typical SQLAlchemy error becomes
    advice; any other error is raised again with a short traceback (your frames)."""
    message = None
    try:
        async with deadline(STEP, what):
            yield
    except Exception as error:
        message = advice_for(error, what)
        if message is None:
            raise error.with_traceback(your_frames(error.__traceback__)) from None
    if message is not None:
        raise pytest.fail.Exception(message) from None  # the advice, without the error


class WriteGate:
    """Holds each transaction's first write until two transactions are at theirs.

    Two transfers at the same time then both do their reads before either writes, the
    moment a read-modify-write loses an update. An app that runs its transfers one at a
    time never brings two here at once: after PATIENCE seconds the first goes on alone.
    """

    PATIENCE = 1.5  # real seconds: long enough for a second request on a busy machine

    def __init__(self) -> None:
        self.arrived = 0
        self.together = asyncio.Event()
        self.passed: set[int] = set()

    def before_cursor_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if id(conn) in self.passed or not statement.lstrip().upper().startswith(
            ("UPDATE", "INSERT", "DELETE")
        ):
            return
        self.passed.add(id(conn))
        await_(self.wait())  # this runs inside SQLAlchemy's greenlet: it may await

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived >= 2:
            self.together.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.PATIENCE):
                await self.together.wait()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        event.listen(Engine, "before_cursor_execute", self.before_cursor_execute)
        try:
            yield
        finally:
            event.remove(Engine, "before_cursor_execute", self.before_cursor_execute)


# --- Running the app ----------------------------------------------------------------------


def file_url(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "bank.db"
    return f"sqlite+aiosqlite:///{path}", path


@dataclass
class Bank:
    """Your app, started, with a client, the probes and the journal."""

    app: FastAPI
    client: httpx.AsyncClient
    journal: Journal
    probe: Probe
    deadline: Deadline

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        sessions: async_sessionmaker[AsyncSession] = self.app.state.sessions
        return sessions

    async def send(
        self, method: str, url: str, json: Any = None, expect: type[BaseException] | None = None
    ) -> httpx.Response:
        """One request; after it, no connection may stay out of the pool."""
        what = f"{method} {url}"
        before = self.journal.checked_out
        first = len(self.journal.entries)
        self.journal.note(f"{what} sent")
        response = httpx.Response(500)
        try:
            async with step(self.deadline, what):
                response = await self.client.request(method, url, json=json)
        except Exception as error:
            if expect is None or not isinstance(error, expect):
                raise
        self.journal.note(f"{what} answered {response.status_code}")
        left = self.journal.checked_out - before
        assert left <= 0, (
            f"After {what}, {left} more database connection(s) were checked out of the pool "
            f"than before it: the request's session was never closed "
            f"({self.journal.story(first)}). get_session must close its session however "
            "the request ends: `async with sessions() as session:` around the yield."
        )
        return response

    def sessions_since(self, first: int) -> list[Session]:
        return self.journal.sessions[first:]


@asynccontextmanager
async def running(url: str, journal: Journal, deadline: Deadline) -> AsyncIterator[Bank]:
    """Starts create_app(url) with its lifespan; after shutdown, checks nothing is left."""
    app = create_app(url)
    probe = Probe()
    add_probes(app, probe)
    manager = LifespanManager(app, startup_timeout=None, shutdown_timeout=None)
    try:
        async with step(deadline, "The app's startup (the lifespan, up to its yield)"):
            await manager.__aenter__()
    except BaseException:
        await clean_up(journal, probe)
        raise
    body_failed = True
    try:
        check_startup(app, url)
        watched = watch_responses(manager.app, journal)
        transport = httpx.ASGITransport(app=watched)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Bank(app, client, journal, probe, deadline)
        body_failed = False
    finally:
        try:
            async with step(deadline, "The app's shutdown (the lifespan, after its yield)"):
                await manager.__aexit__(None, None, None)
        finally:
            left_open, not_closed = await clean_up(journal, probe)
    if body_failed:
        return
    assert not left_open, (
        f"After shutdown, {', '.join(left_open)} still had a transaction open "
        f"({journal.story()}). Close every request's session in get_session: "
        "`async with sessions() as session:` around the yield."
    )
    assert not not_closed, (
        f"After shutdown, {not_closed} connection(s) to the database were still open, each "
        "with an aiosqlite thread of its own. The pool lives as long as the app: end the "
        "lifespan with `await engine.dispose()` after the yield (in a finally)."
    )


def check_startup(app: FastAPI, url: str) -> None:
    engine = getattr(app.state, "engine", None)
    assert isinstance(engine, AsyncEngine), (
        f"After startup, app.state.engine is {engine!r}. The lifespan must create the "
        "engine with create_async_engine(app.state.database_url, ...) and keep it as "
        "app.state.engine."
    )
    expected = url.split("///", 1)[1]
    assert engine.url.database == expected, (
        f"The engine opens {engine.url.database!r}, not the database create_app was given "
        f"({expected!r}). Create the engine in the lifespan from app.state.database_url."
    )
    sessions = getattr(app.state, "sessions", None)
    if isinstance(sessions, sessionmaker):
        pytest.fail(
            "app.state.sessions is a sessionmaker. For AsyncSession, SQLAlchemy 2 has "
            "async_sessionmaker: async_sessionmaker(engine, expire_on_commit=False)."
        )
    assert isinstance(sessions, async_sessionmaker), (
        f"After startup, app.state.sessions is {sessions!r}; the lifespan must keep an "
        "async_sessionmaker bound to the engine there."
    )


def watch_responses(app: Any, journal: Journal) -> Any:
    """Notes in the journal the moment each response starts going out to the client."""

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        async def noting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                journal.note(f"response {message['status']} sent")
            await send(message)

        await app(scope, receive, noting_send)

    return watched


async def clean_up(journal: Journal, probe: Probe) -> tuple[list[str], int]:
    """Closes what the app left open, so the next test starts clean; says what it was."""
    left_open = [journal.name(s) for s in journal.sessions if s.in_transaction()]
    closes: list[Callable[[], Any]] = [s.close for s in journal.sessions if s.in_transaction()]
    closes += [s.sync_session.close for s in probe.sessions]
    not_closed = len(journal.open_connections)
    closes += [connection.close for connection in journal.open_connections]
    for close in closes:
        with contextlib.suppress(Exception):  # what is broken already needs no closing
            await greenlet_spawn(close)
    journal.open_connections.clear()
    return left_open, not_closed


def read_file(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The accounts and transfers in the database file, read with the sqlite3 module.

    Called after the app has shut down: another program opening the file, as a bank's
    auditor would. Nothing of a transaction that was not committed may be in it.
    """
    assert path.exists(), (
        f"There is no database file at {path}: the app never wrote to the database it was "
        "given. Create the engine from app.state.database_url."
    )
    with closing(_real_sqlite3_connect(path)) as db:
        try:
            accounts = db.execute("SELECT id, owner, balance FROM accounts ORDER BY id")
            account_rows = accounts.fetchall()
            transfers = db.execute(
                "SELECT from_account_id, to_account_id, amount FROM transfers ORDER BY id"
            )
            transfer_rows = transfers.fetchall()
        except sqlite3.OperationalError as error:
            pytest.fail(
                f"Reading the database file after shutdown failed: {error}. The lifespan "
                "must create the tables at startup: "
                "`await conn.run_sync(Base.metadata.create_all)` in `engine.begin()`."
            )
    return account_rows, transfer_rows


async def seed(bank: Bank, *people: tuple[str, int]) -> list[int]:
    """Accounts made through the app's own sessionmaker; their ids, in order."""
    async with step(bank.deadline, "Adding accounts through app.state.sessions"):
        async with bank.sessions() as session:
            accounts = [Account(owner=owner, balance=balance) for owner, balance in people]
            session.add_all(accounts)
            await session.flush()
            ids = [account.id for account in accounts]
            await session.commit()
    return ids


# --- The tests ---------------------------------------------------------------------------


async def test_the_lifespan_makes_the_engine_and_disposes_it(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    app = create_app(url)
    assert getattr(app.state, "engine", None) is None, (
        "create_app made app.state.engine before the app started. The engine (and its "
        "pool) belongs to the lifespan: made at startup, disposed at shutdown."
    )
    async with running(url, journal, deadline) as bank:
        async with step(deadline, "Adding an account through app.state.sessions"):
            async with bank.sessions() as session:
                account = Account(owner="Ada", balance=5)
                session.add(account)
                await session.flush()
                seen = (account.id, account.owner, account.balance)
                await session.commit()
                expired = inspect(account).expired_attributes
        assert not expired, (
            f"An Account committed through app.state.sessions had its attributes expired "
            f"by the commit ({', '.join(sorted(expired))}). Reading one again needs the "
            "database, which an async session cannot do behind a plain attribute access "
            "(MissingGreenlet). Make the sessionmaker with "
            "async_sessionmaker(engine, expire_on_commit=False)."
        )
    accounts, transfers = read_file(path)
    assert accounts == [seen] and transfers == [], (
        f"An account was committed through app.state.sessions, and after shutdown the "
        f"database file holds the accounts {accounts} and the transfers {transfers}."
    )


async def test_a_startup_that_fails_still_disposes_its_engine(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    with closing(_real_sqlite3_connect(path)) as db:  # CREATE TABLE transfers will fail
        db.executescript("CREATE TABLE other (x); CREATE INDEX transfers ON other (x);")
    app = create_app(url)
    manager = LifespanManager(app, startup_timeout=None, shutdown_timeout=None)
    failed = started = False
    try:
        async with step(deadline, "The app's startup on a database it cannot set up"):
            await manager.__aenter__()
        started = True
    except sa_exc.DatabaseError:
        failed = True  # the lifespan let the database's error through, as it should
    finally:
        if started:
            await manager.__aexit__(None, None, None)
        _, not_closed = await clean_up(journal, Probe())
    if started:
        check_startup(app, url)
    assert failed, (
        "The database file already holds an index named 'transfers', so the table "
        "'transfers' cannot be created; yet the app started, or failed with another "
        "error than the database's own. Let the error of create_all go on up: the app "
        "must not start without its tables."
    )
    assert not not_closed, (
        f"The app's startup failed while creating the tables (an index named 'transfers' "
        f"was in the way), and {not_closed} connection(s) to the database stayed open. "
        "Everything after create_async_engine belongs in the `try` whose `finally` "
        "disposes the engine: the pool must be closed however the lifespan ends, a "
        "failed startup too."
    )


async def test_an_app_stopped_abruptly_still_disposes_its_engine(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, _ = file_url(tmp_path)
    app = create_app(url)
    manager = LifespanManager(app, startup_timeout=None, shutdown_timeout=None)
    async with step(deadline, "The app's startup (the lifespan, up to its yield)"):
        await manager.__aenter__()
    stop = RuntimeError("the server was stopped")  # no shutdown: the lifespan is cancelled
    async with step(deadline, "Stopping the app abruptly (the lifespan cancelled)"):
        await manager.__aexit__(type(stop), stop, None)
    _, not_closed = await clean_up(journal, Probe())
    assert journal.connect_attempts > 0, "The app's startup never connected to its database."
    assert not not_closed, (
        f"The app was stopped abruptly (its lifespan cancelled at the yield, as when the "
        f"server is killed), and {not_closed} connection(s) to the database stayed open. "
        "Put `await engine.dispose()` in a `finally` around the yield: it runs however "
        "the lifespan ends."
    )


async def test_a_new_account_is_committed_to_the_file(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        created = await bank.send("POST", "/accounts", {"owner": "Ada", "balance": 2500})
        assert created.status_code == 201, (
            f"POST /accounts answered {created.status_code}: {created.text}. A new account "
            "answers 201 Created."
        )
        body = created.json()
        assert body.get("owner") == "Ada" and body.get("balance") == 2500, (
            f"POST /accounts answered {body}; expected the new account with its id, "
            "owner 'Ada' and balance 2500 (an AccountOut)."
        )
        assert isinstance(body.get("id"), int), (
            f"POST /accounts answered {body}: the account needs its id from the database. "
            "`await session.flush()` runs the INSERT, and then account.id is set."
        )
        second = await bank.send("POST", "/accounts", {"owner": "Grace"})
        assert second.status_code == 201 and second.json().get("balance") == 0, (
            f"POST /accounts without a balance answered {second.status_code}: "
            f"{second.text}; expected 201 and a balance of 0."
        )
    accounts, _ = read_file(path)
    assert accounts == [(body["id"], "Ada", 2500), (second.json()["id"], "Grace", 0)], (
        f"After two accounts were created (201), the database file holds {accounts}. The "
        "client was told they exist, so they must be committed: get_session commits when "
        "the request succeeds."
    )


async def test_accounts_are_listed_and_read_by_id(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, _ = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        ids = await seed(bank, ("Cy", 7), ("Ada", 100), ("Bob", 0))
        expected = [
            {"id": ids[0], "owner": "Cy", "balance": 7},
            {"id": ids[1], "owner": "Ada", "balance": 100},
            {"id": ids[2], "owner": "Bob", "balance": 0},
        ]
        listed = await bank.send("GET", "/accounts")
        assert listed.status_code == 200 and listed.json() == expected, (
            f"GET /accounts answered {listed.status_code}: {listed.text}; expected every "
            f"account, in id order: {expected}."
        )
        one = await bank.send("GET", f"/accounts/{ids[1]}")
        assert one.status_code == 200 and one.json() == expected[1], (
            f"GET /accounts/{ids[1]} answered {one.status_code}: {one.text}; expected "
            f"{expected[1]}."
        )
        missing = await bank.send("GET", "/accounts/999")
        assert missing.status_code == 404, (
            f"GET /accounts/999 answered {missing.status_code}: {missing.text}. There is no "
            "such account (session.get gives back None): raise HTTPException with 404."
        )


async def test_a_transfer_moves_the_money_in_one_transaction(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        ada, bob = await seed(bank, ("Ada", 100), ("Bob", 20))
        first = len(journal.sessions)
        entry = len(journal.entries)
        sent = {"from_account_id": ada, "to_account_id": bob, "amount": 30}
        response = await bank.send("POST", "/transfers", sent)
        assert response.status_code == 201, (
            f"POST /transfers of 30 from Ada (100) to Bob answered {response.status_code}: "
            f"{response.text}; expected 201."
        )
        body = response.json()
        assert {k: body.get(k) for k in sent} == sent and isinstance(body.get("id"), int), (
            f"POST /transfers answered {body}; expected the transfer with its id and "
            f"{sent} (a TransferOut)."
        )
        used = bank.sessions_since(first)
        assert len(used) == 1, (
            f"One transfer used {len(used)} sessions ({journal.story(entry)}). One request, "
            "one session: the two updates and the insert belong to one transaction, or "
            "a failure halfway leaves half a transfer."
        )
        story = journal.story(entry)
        assert used[0] in journal.commits, (
            f"The transfer's session was never committed ({story}): the client got 201 "
            "for money that never moved. get_session commits after the yield."
        )
        commit = journal.entries.index(f"{journal.name(used[0])} committed", entry)
        answer = journal.entries.index("response 201 sent", entry)
        assert commit < answer, (
            f"The 201 went out before the commit ({story}). If the commit fails, the "
            "client has been told a transfer happened that did not. Keep SessionDep's "
            'scope="function": get_session then commits before the response is sent.'
        )
        balances = {a["id"]: a["balance"] for a in (await bank.send("GET", "/accounts")).json()}
        assert balances == {ada: 70, bob: 50}, (
            f"After 30 went from Ada (100) to Bob (20), the balances are {balances}; "
            f"expected {ada}: 70 and {bob}: 50."
        )
        everything = {"from_account_id": ada, "to_account_id": bob, "amount": 70}
        response = await bank.send("POST", "/transfers", everything)
        assert response.status_code == 201, (
            f"Sending all of Ada's 70 to Bob answered {response.status_code}: "
            f"{response.text}. A balance may reach 0; only less than 0 is refused."
        )
    accounts, transfers = read_file(path)
    assert accounts == [(ada, "Ada", 0), (bob, "Bob", 120)] and transfers == [
        (ada, bob, 30),
        (ada, bob, 70),
    ], (
        f"After the two transfers the database file holds the accounts {accounts} and the "
        f"transfers {transfers}; expected Ada 0 and Bob 120, and the two transfer rows."
    )


async def test_a_transfer_short_of_funds_is_409_and_leaves_no_trace(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        ada, bob = await seed(bank, ("Ada", 100), ("Bob", 20))
        entry = len(journal.entries)
        sent = {"from_account_id": ada, "to_account_id": bob, "amount": 101}
        response = await bank.send("POST", "/transfers", sent)
        assert response.status_code == 409, (
            f"POST /transfers of 101 from Ada, who has 100, answered "
            f"{response.status_code}: {response.text}; expected 409 Conflict."
        )
        story = journal.story(entry)
        balances = {a["id"]: a["balance"] for a in (await bank.send("GET", "/accounts")).json()}
        assert balances == {ada: 100, bob: 20}, (
            f"After a refused transfer (409), the balances are {balances}; expected them "
            f"unchanged ({story}). When the request fails, get_session rolls back."
        )
        again = {"from_account_id": ada, "to_account_id": bob, "amount": 100}
        response = await bank.send("POST", "/transfers", again)
        assert response.status_code == 201, (
            f"After a refused transfer, sending all of Ada's 100 to Bob answered "
            f"{response.status_code}: {response.text}; expected 201. A balance may reach 0, "
            "and a failed request must leave nothing behind for the next one."
        )
    accounts, transfers = read_file(path)
    assert accounts == [(ada, "Ada", 0), (bob, "Bob", 120)] and transfers == [(ada, bob, 100)], (
        f"After a refused transfer and a good one, the database file holds the accounts "
        f"{accounts} and the transfers {transfers}; expected only the good transfer of 100 "
        f"(Ada 0, Bob 120) ({journal.story(entry)}). What a failed request wrote must be "
        "rolled back, never committed."
    )


async def test_two_transfers_at_the_same_time_cannot_spend_the_same_money(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        ada, bob = await seed(bank, ("Ada", 100), ("Bob", 0))
        async with step(deadline, "Opening two connections through app.state.sessions"):
            async with bank.sessions() as first, bank.sessions() as second:
                await first.connection()  # two connections in the pool, ready: both
                await second.connection()  # transfers start at once
        sent = {"from_account_id": ada, "to_account_id": bob, "amount": 60}
        gate = WriteGate()
        with gate.installed():
            tasks = [
                asyncio.create_task(bank.client.post("/transfers", json=sent)) for _ in range(2)
            ]
            try:
                responses = await finish(tasks, "Two transfers at the same time")
            except Stuck:
                pytest.fail(f"Two transfers at the same time never finished ({journal.story()}).")
        codes = sorted(r.status_code for r in responses)
    accounts, transfers = read_file(path)
    balances = {id_: balance for id_, _, balance in accounts}
    outcome = (
        f"Ada had 100, and two transfers of 60 from her to Bob ran at the same time. They "
        f"answered {codes}, and the file now holds Ada {balances.get(ada)} and Bob "
        f"{balances.get(bob)}, with {len(transfers)} transfer row(s); expected one 201, one "
        "409, Ada 40 and Bob 60."
    )
    assert codes != [201, 201], (
        f"{outcome} Both read her balance before either wrote, and a balance read in "
        "Python, checked, and written back is stale by the time it is written. Let the "
        "database do the arithmetic in the UPDATE itself (balance = balance - amount) and "
        "check the balance it returns, or make the UPDATE conditional "
        "(WHERE balance >= amount)."
    )
    assert codes == [201, 409] and balances == {ada: 40, bob: 60} and len(transfers) == 1, (
        f"{outcome} Two requests at the same time must neither see nor undo each other's "
        "work: each needs a session, and a connection, of its own (StaticPool shares one "
        "connection between all sessions: it is for ':memory:' only)."
    )


@pytest.mark.parametrize("missing", ["source", "target"])
async def test_a_transfer_with_a_missing_account_is_404_and_leaves_no_trace(
    missing: str, tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        (ada,) = await seed(bank, ("Ada", 100))
        entry = len(journal.entries)
        ends = (999, ada) if missing == "source" else (ada, 999)
        sent = {"from_account_id": ends[0], "to_account_id": ends[1], "amount": 10}
        response = await bank.send("POST", "/transfers", sent)
        assert response.status_code == 404, (
            f"POST /transfers {sent}, where account 999 does not exist, answered "
            f"{response.status_code}: {response.text}; expected 404."
        )
    accounts, transfers = read_file(path)
    assert accounts == [(ada, "Ada", 100)] and transfers == [], (
        f"After a transfer refused with 404 (the {missing} account does not exist), the "
        f"database file holds the accounts {accounts} and the transfers {transfers}; "
        f"expected Ada with her 100 and no transfer ({journal.story(entry)}). Whatever the "
        "request wrote before it failed must be rolled back."
    )


@pytest.mark.parametrize("failure", ["http", "error"])
async def test_get_session_commits_success_and_rolls_back_failure(
    failure: str, tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    how = "raised HTTPException(418)" if failure == "http" else "raised an error (a 500)"
    async with running(url, journal, deadline) as bank:
        entry = len(journal.entries)
        failed = await bank.send("POST", f"/probe/write?then={failure}", expect=ProbeError)
        if failure == "http":
            assert failed.status_code == 418, (
                f"An endpoint that raised HTTPException(418) answered {failed.status_code}: "
                f"{failed.text}. get_session must let the error go on up after rolling back."
            )
        story = journal.story(entry)
        good = await bank.send("POST", "/probe/write?then=ok")
        assert good.status_code == 200, (
            f"After a request that {how}, the next one answered {good.status_code}: "
            f"{good.text}. A failed request must not break the next one."
        )
        sessions = bank.probe.sessions
        assert len(sessions) == 2 and sessions[0] is not sessions[1], (
            "Two requests, one after the other, were handed the same session. Each "
            "request gets a new session from the sessionmaker, closed when it ends."
        )
    accounts, _ = read_file(path)
    owners = [owner for _, owner, _ in accounts]
    assert "probe ok" in owners, (
        f"An endpoint added an account and returned normally, but the database file holds "
        f"{accounts} ({journal.story(entry)}). When the request succeeds, get_session "
        "commits: `await session.commit()` after the yield."
    )
    assert owners == ["probe ok"], (
        f"An endpoint added an account, wrote it (flush), then {how}. The database file "
        f"holds {accounts} (the failed request's log: {story}). Its write must be rolled "
        "back: in get_session, roll back when the yield raises, and raise again."
    )


async def test_requests_at_the_same_time_each_get_their_own_session(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, _ = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        first = len(journal.sessions)
        tasks = [asyncio.create_task(bank.client.get("/probe/together")) for _ in range(4)]
        try:
            responses = await finish(tasks, "4 requests at the same time")
        except Stuck:
            pytest.fail(
                f"4 requests could not all run at the same time: some waited for the others "
                f"to finish ({journal.story()}). Is one session handed to every request, "
                "behind a lock? Make a new session per request in get_session."
            )
        assert [r.status_code for r in responses] == [200] * 4, (
            f"4 requests at the same time answered {[r.status_code for r in responses]}: "
            f"{responses[0].text}"
        )
        seen = bank.probe.sessions
        assert len({id(s) for s in seen}) == 4, (
            f"4 requests at the same time were handed {len({id(s) for s in seen})} "
            "different session(s). Requests never share a session: one shared session "
            "mixes their transactions, and one failure breaks them all."
        )
        assert len(bank.sessions_since(first)) == 4, (
            f"4 requests ran {len(bank.sessions_since(first))} session transactions "
            f"({journal.story()}); expected one each."
        )
        assert journal.checked_out == 0, (
            f"After 4 requests, {journal.checked_out} connection(s) were still checked "
            "out: close every request's session."
        )


async def test_the_pool_lends_at_most_pool_size_connections(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, _ = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        probe = bank.probe
        tasks = [asyncio.create_task(bank.client.get("/probe/hold")) for _ in range(8)]
        message = None
        try:
            async with asyncio.timeout(STEP):
                await probe.all_in.wait()
        except TimeoutError:
            message = (
                f"8 requests asked the pool for a connection at the same time, and only "
                f"{probe.holding} got one. The pool should lend POOL_SIZE ({POOL_SIZE}) at "
                "once: create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0)."
            )
        opened = journal.connect_attempts - journal.closed
        if message is None and opened > POOL_SIZE:
            message = (
                f"8 requests asked for a connection at the same time, and the pool opened "
                f"{opened} connections for them. It should lend at most POOL_SIZE "
                f"({POOL_SIZE}) and make the others wait their turn: pool_size=POOL_SIZE "
                "and max_overflow=0 (by default, 10 more may open beyond the pool_size)."
            )
        probe.release.set()
        try:
            responses = await finish(tasks, "8 requests that each hold a connection")
        except Stuck as stuck:
            pytest.fail(
                f"{stuck} of 8 requests that each held a connection for a moment never got "
                f"one ({journal.story()}). Is a connection never given back to the pool?"
            )
        if message is not None:
            pytest.fail(message)
        kept = journal.connect_attempts - journal.closed
        assert kept == POOL_SIZE, (
            f"After 8 requests that each held a connection, the pool kept {kept} "
            f"connection(s) open for the next requests; expected POOL_SIZE ({POOL_SIZE}). "
            "pool_size=POOL_SIZE keeps that many ready, and with max_overflow=0 it never "
            "opens (and closes again) extra ones."
        )
        assert probe.peak_holding == POOL_SIZE, (
            f"At most {probe.peak_holding} requests held a connection at once; expected "
            f"{POOL_SIZE}."
        )
        assert [r.status_code for r in responses] == [200] * 8, (
            f"8 requests that waited their turn for a connection answered "
            f"{[r.status_code for r in responses]}: {responses[0].text}"
        )
        assert journal.checked_out == 0, (
            f"After 8 requests, {journal.checked_out} connection(s) were still checked "
            "out: close every request's session."
        )


async def test_a_cancelled_request_gives_its_connection_back_and_keeps_nothing(
    tmp_path: Path, journal: Journal, deadline: Deadline
) -> None:
    url, path = file_url(tmp_path)
    async with running(url, journal, deadline) as bank:
        entry = len(journal.entries)
        task = asyncio.create_task(bank.client.post("/probe/write?then=wait"))
        written = asyncio.create_task(bank.probe.written.wait())
        await asyncio.wait([task, written], timeout=STEP, return_when=asyncio.FIRST_COMPLETED)
        written.cancel()
        task.cancel()  # the client went away while the endpoint waited
        await asyncio.wait([written])
        done, _ = await asyncio.wait([task], timeout=STEP)
        assert done, (
            f"A request cancelled while its endpoint waited had not ended {STEP} seconds "
            "later. Let CancelledError through: catch it only to clean up, then raise."
        )
        if not task.cancelled():
            fail_or_raise(task.exception() or Exception("no error"), "A cancelled request")
        assert bank.probe.written.is_set(), "The request was cancelled before it wrote."
        assert journal.checked_out == 0, (
            f"A request was cancelled after it had written, and its connection was never "
            f"given back ({journal.story(entry)}). A cancel is not an Exception: "
            "`except Exception:` misses it. Close the session however the request ends "
            "(`async with sessions() as session:`, or `finally`)."
        )
        after = await bank.send("POST", "/probe/write?then=ok")
        assert after.status_code == 200, (
            f"After a cancelled request, the next one answered {after.status_code}."
        )
    accounts, _ = read_file(path)
    owners = [owner for _, owner, _ in accounts]
    assert owners == ["probe ok"], (
        f"A request wrote an account and was cancelled before it finished; the database "
        f"file holds {accounts} ({journal.story(entry)}). Only the next request's account "
        "belongs there: a cancelled request's work is rolled back, never committed."
    )


async def test_an_in_memory_database_keeps_one_shared_connection(
    journal: Journal, deadline: Deadline
) -> None:
    url = "sqlite+aiosqlite:///:memory:"
    async with running(url, journal, deadline) as bank:
        ada = await bank.send("POST", "/accounts", {"owner": "Ada", "balance": 50})
        bob = await bank.send("POST", "/accounts", {"owner": "Bob", "balance": 5})
        assert ada.status_code == 201 and bob.status_code == 201, (
            f"POST /accounts on an in-memory database answered {ada.status_code}: {ada.text}"
        )
        ids = ada.json()["id"], bob.json()["id"]
        sent = {"from_account_id": ids[0], "to_account_id": ids[1], "amount": 20}
        moved = await bank.send("POST", "/transfers", sent)
        assert moved.status_code == 201, (
            f"POST /transfers on an in-memory database answered {moved.status_code}: {moved.text}"
        )
        tasks = [asyncio.create_task(bank.client.get(f"/accounts/{i}")) for i in ids]
        both = await finish(tasks, "Two reads at the same time on ':memory:'")
        balances = [r.json().get("balance") if r.status_code == 200 else r for r in both]
        assert balances == [30, 25], (
            f"Two reads at the same time on an in-memory database gave {balances}; "
            "expected [30, 25]: every session must see the same database."
        )
