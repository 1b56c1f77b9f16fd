"""Right answer: written the way the hints lead, test by test, with no shared helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from bookcache_app import BOOK_TTL, Book, BookRepository, get_repository
from fastapi import FastAPI
from redis.asyncio import Redis

DUNE = {"title": "Dune", "author": "Frank Herbert", "price": 1250}
EMMA = {"title": "Emma", "author": "Jane Austen", "price": 899}


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        yield client


@pytest.fixture
def cache(app: FastAPI, client: httpx.AsyncClient) -> Redis:
    return app.state.redis  # type: ignore[no-any-return]


@pytest.fixture
def reads(app: FastAPI) -> Iterator[list[int]]:
    seen: list[int] = []

    class SpyRepository(BookRepository):
        async def get(self, book_id: int) -> Book | None:
            seen.append(book_id)
            return await super().get(book_id)

    app.dependency_overrides[get_repository] = SpyRepository
    yield seen
    app.dependency_overrides.pop(get_repository, None)


async def test_create_and_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/books", json=DUNE)
    assert response.status_code == 201
    dune = response.json()
    assert dune == {"id": 1, **DUNE}
    emma = (await client.post("/books", json=EMMA)).json()
    assert emma == {"id": 2, **EMMA}
    assert (await client.get("/books/1")).json() == dune
    assert (await client.get("/books/2")).json() == emma
    assert (await client.get("/books/1")).json() == dune
    assert (await client.get("/books/2")).json() == emma
    assert (await client.get("/books/3")).status_code == 404


async def test_second_read_is_a_hit(client: httpx.AsyncClient, reads: list[int]) -> None:
    book = (await client.post("/books", json=DUNE)).json()
    for _ in range(3):
        await client.get(f"/books/{book['id']}")
    assert reads == [book["id"]]


async def test_cached_with_a_ttl(client: httpx.AsyncClient, cache: Redis) -> None:
    book = (await client.post("/books", json=DUNE)).json()
    key = f"book:{book['id']}"
    await client.get(f"/books/{book['id']}")
    assert json.loads(await cache.get(key)) == book
    assert BOOK_TTL - 10 < await cache.ttl(key) <= BOOK_TTL
    await cache.expire(key, 10)
    await client.get(f"/books/{book['id']}")
    assert 0 < await cache.ttl(key) <= 10


async def test_missing_book_is_not_cached(client: httpx.AsyncClient, cache: Redis) -> None:
    assert (await client.get("/books/1")).status_code == 404
    book = (await client.post("/books", json=DUNE)).json()
    assert book["id"] == 1
    assert (await client.get("/books/1")).status_code == 200


async def test_price_change_is_served(client: httpx.AsyncClient) -> None:
    await client.post("/books", json=DUNE)
    await client.get("/books/1")
    assert (await client.put("/books/1", json={"price": 100})).json()["price"] == 100
    assert (await client.get("/books/1")).json()["price"] == 100
    assert (await client.put("/books/2", json={"price": 100})).status_code == 404


async def test_deleted_book_is_gone(client: httpx.AsyncClient, cache: Redis) -> None:
    await client.post("/books", json=DUNE)
    await client.post("/books", json=EMMA)
    await client.get("/books/1")
    await client.get("/books/2")
    assert (await client.delete("/books/1")).status_code == 204
    assert (await client.get("/books/1")).status_code == 404
    assert (await client.delete("/books/1")).status_code == 404
    assert await cache.get("book:2") is not None
