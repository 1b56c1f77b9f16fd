"""The app under test in kata 31: the bookshop's cached book endpoints. It works: your
tests must pass against it.

(Read it, but don't edit it. The grader also runs your tests against broken copies.)

- `POST /books` with `{"title": ..., "author": ..., "price": ...}` (the price in cents,
  0 or more): `201` and the book, with its new `id` (a new database's first book gets
  id 1, the next 2, and so on).
- `GET /books/{book_id}`, cache-aside: first Redis, under the key `book:{book_id}`
  (`book_key`). A hit answers the cached JSON as it is and does not touch the database.
  A miss reads the book from the database (`BookRepository.get`), stores its JSON under
  that key for BOOK_TTL seconds (`SET key value EX 300`; a hit never renews it) and
  answers it. A book that does not exist: `404` `{"detail": "book not found"}`, and
  nothing is cached.
- `PUT /books/{book_id}` with `{"price": ...}`: saves the new price, then drops the cached
  copy; answers the updated book, or `404`.
- `DELETE /books/{book_id}`: deletes the book, then drops the cached copy: `204`, or `404`.

The lifespan opens the database (an async SQLAlchemy engine on aiosqlite, in memory) and
the Redis client, `app.state.redis` while the app runs. Endpoints reach the database only
through the `get_repository` dependency, and Redis through `get_redis`.
"""

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool

BOOK_TTL = 300  # seconds a cached book lives in Redis


def book_key(book_id: int) -> str:
    return f"book:{book_id}"


class Base(DeclarativeBase):
    pass


class BookRow(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author: Mapped[str]
    price: Mapped[int]  # cents


class BookIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    author: str = Field(min_length=1, max_length=200)
    price: int = Field(ge=0)


class PriceIn(BaseModel):
    price: int = Field(ge=0)


class Book(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    author: str
    price: int


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint succeeds, else rolled back."""
    async with request.app.state.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class BookRepository:
    """The books table, on the request's session: all the database work the endpoints do."""

    def __init__(self, session: SessionDep) -> None:
        self.session = session

    async def get(self, book_id: int) -> Book | None:
        row = await self.session.get(BookRow, book_id)
        return None if row is None else Book.model_validate(row)

    async def add(self, data: BookIn) -> Book:
        row = BookRow(**data.model_dump())
        self.session.add(row)
        await self.session.flush()  # the INSERT runs: the row has its id
        return Book.model_validate(row)

    async def set_price(self, book_id: int, price: int) -> Book | None:
        row = await self.session.get(BookRow, book_id)
        if row is None:
            return None
        row.price = price
        await self.session.flush()
        return Book.model_validate(row)

    async def delete(self, book_id: int) -> bool:
        row = await self.session.get(BookRow, book_id)
        if row is None:
            return False
        await self.session.delete(row)
        await self.session.flush()
        return True


async def get_repository(session: SessionDep) -> BookRepository:
    return BookRepository(session)


async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


RepositoryDep = Annotated[BookRepository, Depends(get_repository)]
RedisDep = Annotated[Redis, Depends(get_redis)]


def real_redis() -> Redis:
    url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    return Redis.from_url(url, decode_responses=True)


def create_app(
    database_url: str = "sqlite+aiosqlite:///:memory:", redis: Callable[[], Redis] = real_redis
) -> FastAPI:
    """The app; every startup opens a new database and a new Redis client (`redis()`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_engine(database_url, poolclass=StaticPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
            app.state.redis = redis()
            try:
                yield
            finally:
                await app.state.redis.aclose()
                del app.state.redis, app.state.sessions
        finally:
            await engine.dispose()

    app = FastAPI(title="Bookshop: cached books", lifespan=lifespan)

    @app.post("/books", status_code=status.HTTP_201_CREATED)
    async def create_book(data: BookIn, repo: RepositoryDep) -> Book:
        return await repo.add(data)

    @app.get("/books/{book_id}")
    async def read_book(book_id: int, repo: RepositoryDep, redis: RedisDep) -> Response:
        key = book_key(book_id)
        cached = await redis.get(key)
        if cached is None:
            book = await repo.get(book_id)
            if book is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "book not found")
            cached = book.model_dump_json()
            await redis.set(key, cached, ex=BOOK_TTL)
        return Response(cached, media_type="application/json")

    @app.put("/books/{book_id}")
    async def change_price(
        book_id: int, data: PriceIn, repo: RepositoryDep, redis: RedisDep
    ) -> Book:
        book = await repo.set_price(book_id, data.price)
        if book is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "book not found")
        await redis.delete(book_key(book_id))
        return book

    @app.delete("/books/{book_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_book(book_id: int, repo: RepositoryDep, redis: RedisDep) -> None:
        if not await repo.delete(book_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "book not found")
        await redis.delete(book_key(book_id))

    return app
