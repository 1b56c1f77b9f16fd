"""Mutant: on a tie, best is the last of the cheapest offers."""

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
    """Pure ASGI: every HTTP response carries X-Request-ID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


# --- Part 2: the lifespan ----------------------------------------------------------------


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """One of each for the app's whole life; all closed however the lifespan ends."""
    settings: Settings = app.state.settings
    async with httpx.AsyncClient(transport=settings.transport) as http:
        engine = create_async_engine(settings.database_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            redis = new_redis(settings)
            try:
                yield {
                    "http": http,
                    "sessions": async_sessionmaker(engine, expire_on_commit=False),
                    "redis": redis,
                    "limiter": asyncio.Semaphore(settings.max_in_flight),
                }
            finally:
                await redis.aclose()
        finally:
            await engine.dispose()


def get_settings(request: Request) -> Settings:
    """Given: the settings create_app was given."""
    settings: Settings = request.app.state.settings
    return settings


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.state.http


async def get_redis(request: Request) -> Redis:
    return request.state.redis


async def get_limiter(request: Request) -> asyncio.Semaphore:
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
    """The request's own session: commit on success, roll back on an error, always closed."""
    sessions: async_sessionmaker[AsyncSession] = request.state.sessions
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class BookRepository:
    """The books of one request's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, data: BookIn) -> Book:
        book = Book(**data.model_dump())
        self.session.add(book)
        await self.session.flush()
        return book

    async def get(self, book_id: int) -> Book | None:
        return await self.session.get(Book, book_id)

    async def delete(self, book_id: int) -> bool:
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
    """Tell the webhook about a new book; a failure is logged, never raised."""
    try:
        response = await http.post(
            f"{webhook_url}/events",
            json={"event": "book.created", "book": book.model_dump()},
            headers={"X-Request-ID": request_id},
        )
        response.raise_for_status()
    except httpx.HTTPError:
        logger.exception("The webhook was not told about book %s", book.id)


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
    book = BookOut.model_validate(await repo.add(data))
    background_tasks.add_task(notify_webhook, http, settings.webhook_url, book, request_id)
    return book


# --- Part 5: the cache -------------------------------------------------------------------


def cache_key(book_id: int) -> str:
    """Given: where book `book_id` is cached in Redis."""
    return f"book:{book_id}"


@router.get("/books/{book_id}")
async def read_book(book_id: int, repo: RepoDep, redis: RedisDep, settings: SettingsDep) -> BookOut:
    cached = await redis.get(cache_key(book_id))
    if cached is not None:
        return BookOut.model_validate_json(cached)
    found = await repo.get(book_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No book {book_id}")
    book = BookOut.model_validate(found)
    await redis.set(cache_key(book_id), book.model_dump_json(), ex=settings.cache_ttl)
    return book


@router.delete("/books/{book_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_book(book_id: int, repo: RepoDep, redis: RedisDep) -> None:
    if not await repo.delete(book_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No book {book_id}")
    await redis.delete(cache_key(book_id))


# --- Part 6: offers, fanned out to the suppliers -----------------------------------------


async def ask_supplier(
    http: httpx.AsyncClient,
    limiter: asyncio.Semaphore,
    name: str,
    url: str,
    seconds: float,
) -> SupplierOffer:
    """One supplier's offer; its failure is a status, never an exception."""
    async with limiter:
        try:
            async with asyncio.timeout(seconds):
                response = await http.get(url)
                response.raise_for_status()
                price = int(response.json()["price_cents"])
        except TimeoutError:
            return SupplierOffer(supplier=name, status="timeout")
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return SupplierOffer(supplier=name, status="error")
    return SupplierOffer(supplier=name, status="ok", price_cents=price)


@router.get("/books/{book_id}/offers")
async def read_offers(
    book_id: int, repo: RepoDep, http: HttpDep, limiter: LimiterDep, settings: SettingsDep
) -> Offers:
    book = await repo.get(book_id)
    if book is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No book {book_id}")
    offers = await asyncio.gather(
        *(
            ask_supplier(
                http, limiter, name, f"{base}/prices/{book.isbn}", settings.supplier_timeout
            )
            for name, base in settings.suppliers.items()
        )
    )
    ok = [offer for offer in offers if offer.status == "ok"]
    best = min(reversed(ok), key=lambda offer: offer.price_cents or 0) if ok else None
    return Offers(book_id=book_id, offers=list(offers), best=best)


# --- The app (given) ---------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    """A bookshop with these settings; its lifespan makes what it needs at startup."""
    app = FastAPI(title="Bookshop", lifespan=lifespan)
    app.state.settings = settings or Settings()
    app.add_middleware(RequestIdMiddleware)
    app.include_router(router)
    return app
