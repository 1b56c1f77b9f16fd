"""Mutant: httpx's own timeout (timeout=seconds on get) instead of asyncio.timeout: a
supplier trickling bytes never times out, and timeouts come back as 'error'
"""

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal, TypedDict

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# A client's own X-Request-ID is kept only when it looks like an id: 1 to 64 of these.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


# --- Settings (given) --------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know. Tests build their own."""

    database_url: str = "sqlite+aiosqlite:///bookshop.db"
    redis_url: str = "redis://localhost:6379/0"
    # Makes the app's Redis client instead of redis_url (tests: an in-process fakeredis).
    redis_factory: Callable[[], Redis] | None = None
    # supplier name -> base URL; GET {base}/prices/{isbn} answers {"price_cents": 1299}
    suppliers: dict[str, str] = field(default_factory=dict)
    webhook_url: str = "https://hooks.example.com"  # POST {webhook_url}/events
    max_in_flight: int = 4  # supplier calls at once, counting every request of the app
    supplier_timeout: float = 2.0  # seconds one supplier call may take, once it has a slot
    cache_ttl: int = 300  # seconds a cached book lives in Redis
    # Where the shared httpx client's requests go: None is the network. Tests put fakes here.
    transport: httpx.AsyncBaseTransport | None = None


def new_redis(settings: Settings) -> Redis:
    """Given: a new Redis client for the app (strings in, strings out)."""
    if settings.redis_factory is not None:
        return settings.redis_factory()
    return Redis.from_url(settings.redis_url, decode_responses=True)


# --- The table and the schemas (given) ---------------------------------------------------


class Base(DeclarativeBase):
    """The base of every table."""


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(100))
    isbn: Mapped[str] = mapped_column(String(13))


class BookIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    author: str = Field(min_length=1, max_length=100)
    isbn: str = Field(pattern=r"^\d{13}$")


class BookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    author: str
    isbn: str


class SupplierOffer(BaseModel):
    supplier: str
    status: Literal["ok", "timeout", "error"]
    price_cents: int | None = None  # only when the status is "ok"


class Offers(BaseModel):
    book_id: int
    offers: list[SupplierOffer]  # one per supplier, in the order of Settings.suppliers
    best: SupplierOffer | None  # the cheapest "ok" offer (the first on a tie); None if none


class State(TypedDict):
    """What the lifespan yields: FastAPI hands a copy to every request as request.state."""

    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    limiter: asyncio.Semaphore


# --- Part 1: the request id --------------------------------------------------------------


class RequestIdMiddleware:
    """A pure ASGI middleware: every HTTP response carries an X-Request-ID header.

    - The id is the request's own X-Request-ID when SANE_REQUEST_ID matches all of it
      (fullmatch); otherwise a fresh `uuid.uuid4().hex`, new for every request.
    - Before the app runs, store it in the scope's "state" dict (make the dict if the
      scope has none) as "request_id": that is where get_request_id reads it.
    - Add the header to the response start message, keeping its other headers: on
      every response, 404s and 422s too.
    - Other kinds of connection (scope["type"] "lifespan", "websocket") pass through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app  # the rest of the app, which this middleware wraps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # given: the lifespan (and websockets) pass through
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        rid = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        await self.app(scope, receive, send_with_id)


# --- Part 2: the lifespan ----------------------------------------------------------------


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """The app's resources, from startup to shutdown (settings: app.state.settings).

    Before the yield, make one of each:
    - an `httpx.AsyncClient(transport=settings.transport)`: the one client (connection
      pool) for every supplier and webhook call of the app. No base_url: the suppliers
      and the webhook are on different hosts;
    - the engine, `create_async_engine(settings.database_url)`, and the tables:
      `await conn.run_sync(Base.metadata.create_all)` in `async with engine.begin() as conn:`;
      then `async_sessionmaker(engine, expire_on_commit=False)`;
    - the Redis client: `new_redis(settings)`;
    - the `asyncio.Semaphore(settings.max_in_flight)` every offers request shares.
    Hand them to the requests: yield them in a dict (the lifespan state, see State: each
    request reads it as request.state.<key>), or keep them on app.state.

    After the yield, and however the lifespan ends (a clean shutdown, a cancel, or a
    startup that fails half-way): close the client, `await redis.aclose()` and
    `await engine.dispose()`; each one that was made, even if a later one failed.
    """
    settings: Settings = app.state.settings
    async with httpx.AsyncClient(transport=settings.transport) as http:
        engine = create_async_engine(settings.database_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            redis = new_redis(settings)
            try:
                limiter = asyncio.Semaphore(settings.max_in_flight)
                yield {"http": http, "sessions": sessions, "redis": redis, "limiter": limiter}
            finally:
                await redis.aclose()
        finally:
            await engine.dispose()


def get_settings(request: Request) -> Settings:
    """Given: the settings create_app was given."""
    settings: Settings = request.app.state.settings
    return settings


async def get_http(request: Request) -> httpx.AsyncClient:
    """The app's one httpx client, the lifespan's (request.state.http or app.state)."""
    return request.state.http


async def get_redis(request: Request) -> Redis:
    """The app's one Redis client, the lifespan's."""
    return request.state.redis


async def get_limiter(request: Request) -> asyncio.Semaphore:
    """The app's one semaphore, the lifespan's: shared by every request of this app."""
    return request.state.limiter


def get_request_id(request: Request) -> str:
    """Given: the id RequestIdMiddleware stored in scope["state"]["request_id"]."""
    request_id: str = request.state.request_id
    return request_id


SettingsDep = Annotated[Settings, Depends(get_settings)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]
RedisDep = Annotated[Redis, Depends(get_redis)]
LimiterDep = Annotated[asyncio.Semaphore, Depends(get_limiter)]
RequestIdDep = Annotated[str, Depends(get_request_id)]


# --- Part 3: the session and the repository ----------------------------------------------


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A dependency with `yield`: the request's own AsyncSession, one transaction.

    A new session for every request, from the lifespan's async_sessionmaker. Yield it;
    when the request succeeds, commit; when the endpoint raises (an HTTPException too),
    roll back and raise the error again. Close it however the request ends.
    """
    async with request.state.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function" (given): get_session's code after the yield runs as soon as the
# endpoint returns, before the response is sent: the client gets its 201 only once the
# commit has succeeded.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class BookRepository:
    """The books, on one request's session. It never commits: get_session does."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, data: BookIn) -> Book:
        """A new Book from `data`, added and flushed (the INSERT runs: it has its id)."""
        book = Book(title=data.title, author=data.author, isbn=data.isbn)
        self.session.add(book)
        await self.session.flush()
        return book

    async def get(self, book_id: int) -> Book | None:
        """The book, or None when there is none."""
        return await self.session.get(Book, book_id)

    async def delete(self, book_id: int) -> bool:
        """Delete the book (and flush); False when there was none."""
        book = await self.session.get(Book, book_id)
        if book is None:
            return False
        await self.session.delete(book)
        await self.session.flush()
        return True


async def get_repository(session: SessionDep) -> BookRepository:
    """Given: the repository on the request's session."""
    return BookRepository(session)


RepoDep = Annotated[BookRepository, Depends(get_repository)]


# --- Part 4: new books, and the webhook after the response -------------------------------


async def notify_webhook(
    http: httpx.AsyncClient, webhook_url: str, book: BookOut, request_id: str
) -> None:
    """A background task: tell the webhook about a new book.

    `POST {webhook_url}/events` with the shared client, the JSON body
    {"event": "book.created", "book": book.model_dump()} and the header
    X-Request-ID: request_id. Any failure (a refused connection, a 4xx/5xx: call
    raise_for_status) is logged with `logger` (warning or exception) and never raised:
    nobody is left to catch it after the response.
    """
    try:
        response = await http.post(
            f"{webhook_url}/events",
            json={"event": "book.created", "book": book.model_dump()},
            headers={"X-Request-ID": request_id},
        )
        response.raise_for_status()
    except httpx.HTTPError:
        logger.exception("webhook for book %s failed", book.id)


router = APIRouter()


@router.post("/books", status_code=status.HTTP_201_CREATED)
async def create_book(
    data: BookIn,
    repo: RepoDep,
    http: HttpDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    background_tasks: BackgroundTasks,
) -> BookOut:
    """Add the book and answer it (201, a BookOut with its id).

    Then, after the response: notify_webhook(http, settings.webhook_url, book,
    request_id), as a background task of this request.
    """
    book = BookOut.model_validate(await repo.add(data))
    background_tasks.add_task(notify_webhook, http, settings.webhook_url, book, request_id)
    return book


# --- Part 5: the cache -------------------------------------------------------------------


def cache_key(book_id: int) -> str:
    """Given: where book `book_id` is cached in Redis."""
    return f"book:{book_id}"


@router.get("/books/{book_id}")
async def read_book(book_id: int, repo: RepoDep, redis: RedisDep, settings: SettingsDep) -> BookOut:
    """The book, cache-aside.

    Redis first (cache_key(book_id)): a hit is answered from the cached JSON text, and
    the database is not asked. A miss: the repository; no such book is a 404 (and
    nothing cached); else cache the book's JSON text (`book.model_dump_json()`) for
    settings.cache_ttl seconds and answer it. A hit never renews the TTL.
    """
    key = cache_key(book_id)
    cached = await redis.get(key)
    if cached is not None:
        return BookOut.model_validate_json(cached)
    row = await repo.get(book_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such book")
    book = BookOut.model_validate(row)
    await redis.set(key, book.model_dump_json(), ex=settings.cache_ttl)
    return book


@router.delete("/books/{book_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_book(book_id: int, repo: RepoDep, redis: RedisDep) -> None:
    """Delete the book (404 if there is none), and its cached copy: 204 No Content."""
    if not await repo.delete(book_id):
        raise HTTPException(status_code=404, detail="no such book")
    await redis.delete(cache_key(book_id))


# --- Part 6: offers, fanned out to the suppliers -----------------------------------------


async def ask_supplier(
    http: httpx.AsyncClient,
    limiter: asyncio.Semaphore,
    name: str,
    url: str,
    seconds: float,
) -> SupplierOffer:
    """GET `url` with the shared client; the supplier's offer. Never raises for the
    supplier's failure.

    Wait for a slot of `limiter` first; once you hold it, the call gets `seconds` in all
    (asyncio.timeout: a deadline for the whole call; httpx's own timeout counts each read
    on its own). Status "ok" with price_cents (an int from the JSON body's
    "price_cents") when the supplier answers 2xx with it; "timeout" when time is up;
    "error" for anything else: a 4xx/5xx, a refused or dropped connection, a body that
    is not JSON or has no price.
    """
    async with limiter:
        try:
            response = await http.get(url, timeout=seconds)
            response.raise_for_status()
            price = int(response.json()["price_cents"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return SupplierOffer(supplier=name, status="error")
        return SupplierOffer(supplier=name, status="ok", price_cents=price)


@router.get("/books/{book_id}/offers")
async def read_offers(
    book_id: int, repo: RepoDep, http: HttpDep, limiter: LimiterDep, settings: SettingsDep
) -> Offers:
    """Every supplier's offer for the book (404 if there is no such book).

    Ask each supplier at `{base}/prices/{book.isbn}` with ask_supplier, all at the same
    time, each with settings.supplier_timeout. The offers in the order of
    settings.suppliers; `best` is the cheapest "ok" one (the first of them on a tie), or
    None. If the request is cancelled (the client hangs up), no call may go on running.
    """
    book = await repo.get(book_id)
    if book is None:
        raise HTTPException(status_code=404, detail="no such book")
    offers = await asyncio.gather(
        *(
            ask_supplier(
                http, limiter, name, f"{base}/prices/{book.isbn}", settings.supplier_timeout
            )
            for name, base in settings.suppliers.items()
        )
    )
    ok = [o for o in offers if o.status == "ok"]
    best = min(ok, key=lambda o: o.price_cents) if ok else None
    return Offers(book_id=book_id, offers=list(offers), best=best)


# --- The app (given) ---------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    """A bookshop with these settings; its lifespan makes what it needs at startup."""
    app = FastAPI(title="Bookshop", lifespan=lifespan)
    app.state.settings = settings or Settings()
    app.add_middleware(RequestIdMiddleware)
    app.include_router(router)
    return app
