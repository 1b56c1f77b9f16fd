"""Right answer: the test brings its own fakeredis (an override of get_redis) and spies on
the repository with `patch.object(..., autospec=True, side_effect=...)`, in a `with`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from unittest.mock import AsyncMock, patch

import fakeredis
import httpx
import pytest
from asgi_lifespan import LifespanManager
from bookcache_app import BOOK_TTL, BookRepository, get_redis
from fastapi import FastAPI
from redis.asyncio import Redis

BOOK = {"title": "Middlemarch", "author": "George Eliot", "price": 2000}
OTHER = {"title": "Persuasion", "author": "Jane Austen", "price": 700}


@pytest.fixture
async def cache() -> AsyncIterator[Redis]:
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())  # bytes, not str
    yield redis
    await redis.aclose()


@pytest.fixture
async def client(app: FastAPI, cache: Redis) -> AsyncIterator[httpx.AsyncClient]:
    app.dependency_overrides[get_redis] = lambda: cache
    try:
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
            ) as client,
        ):
            yield client
    finally:
        app.dependency_overrides.clear()


@pytest.fixture
def repository_get() -> Iterator[AsyncMock]:
    with patch.object(BookRepository, "get", autospec=True, side_effect=BookRepository.get) as spy:
        yield spy


async def test_create_and_read(client: httpx.AsyncClient) -> None:
    first = await client.post("/books", json=BOOK)
    second = await client.post("/books", json=OTHER)
    assert first.status_code == second.status_code == 201
    books = [first.json(), second.json()]
    assert books == [{"id": 1, **BOOK}, {"id": 2, **OTHER}]
    for book in books * 2:
        assert (await client.get(f"/books/{book['id']}")).json() == book
    assert (await client.get("/books/3")).status_code == 404


async def test_second_read_is_a_hit(client: httpx.AsyncClient, repository_get: AsyncMock) -> None:
    await client.post("/books", json=BOOK)
    await client.get("/books/1")
    await client.get("/books/1")
    await client.get("/books/1")
    assert repository_get.await_count == 1


async def test_cached_with_a_ttl(client: httpx.AsyncClient, cache: Redis) -> None:
    await client.post("/books", json=BOOK)
    await client.get("/books/1")
    assert await cache.pttl("book:1") > (BOOK_TTL - 5) * 1000
    assert await cache.ttl("book:1") <= BOOK_TTL
    await cache.pexpire("book:1", 5000)
    await client.get("/books/1")
    assert 0 < await cache.pttl("book:1") <= 5000


async def test_missing_book_is_not_cached(client: httpx.AsyncClient, cache: Redis) -> None:
    assert (await client.get("/books/1")).status_code == 404
    assert await cache.dbsize() == 0
    await client.post("/books", json=BOOK)
    assert (await client.get("/books/1")).json() == {"id": 1, **BOOK}


async def test_price_change_is_served(client: httpx.AsyncClient) -> None:
    await client.post("/books", json=BOOK)
    await client.get("/books/1")
    assert (await client.put("/books/1", json={"price": 5})).status_code == 200
    assert (await client.get("/books/1")).json()["price"] == 5


async def test_deleted_book_is_gone(client: httpx.AsyncClient, cache: Redis) -> None:
    await client.post("/books", json=BOOK)
    await client.post("/books", json=OTHER)
    await client.get("/books/1")
    await client.get("/books/2")
    assert (await client.delete("/books/1")).status_code == 204
    assert await cache.exists("book:1") == 0
    assert await cache.exists("book:2") == 1
    assert (await client.get("/books/1")).status_code == 404
