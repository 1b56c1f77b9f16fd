"""Mutant (blind review): the price test trusts the PUT's own answer and checks only the status of
the GET after it: a PUT that leaves the old price cached gets through."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from bookcache_app import BOOK_TTL, Book, BookRepository, get_repository
from fastapi import FastAPI
from redis.asyncio import Redis

DUNE = {"title": "Dune", "author": "Frank Herbert", "price": 1250}
EMMA = {"title": "Emma", "author": "Jane Austen", "price": 899}
NOT_FOUND = {"detail": "book not found"}


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on `app`, with its lifespan running: the database and Redis open."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def cache(app: FastAPI, client: httpx.AsyncClient) -> Redis:
    """The app's own Redis client, to read what the app cached (`get`) and for how long
    (`ttl`). The lifespan makes it, as `app.state.redis`: so this fixture takes `client`."""
    redis: Redis = app.state.redis
    return redis


@pytest.fixture
def reads(app: FastAPI) -> Iterator[list[int]]:
    """The id of every book the endpoints read from the database, in order."""
    seen: list[int] = []

    class SpyRepository(BookRepository):
        async def get(self, book_id: int) -> Book | None:
            seen.append(book_id)
            return await super().get(book_id)

    app.dependency_overrides[get_repository] = SpyRepository
    yield seen
    app.dependency_overrides.pop(get_repository, None)


async def create(client: httpx.AsyncClient, data: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/books", json=data)
    assert response.status_code == 201
    book = response.json()
    assert book == {"id": book["id"], **data}
    return book


async def test_create_and_read(client: httpx.AsyncClient) -> None:
    dune = await create(client, DUNE)
    emma = await create(client, EMMA)
    assert dune["id"] == 1
    assert emma["id"] == 2
    for _ in range(3):  # the first GET is a miss, the next ones are hits
        for book in (dune, emma):
            response = await client.get(f"/books/{book['id']}")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/json")
            assert response.json() == book
    missing = await client.get("/books/3")
    assert missing.status_code == 404
    assert missing.json() == NOT_FOUND


async def test_second_read_is_a_hit(client: httpx.AsyncClient, reads: list[int]) -> None:
    dune = await create(client, DUNE)
    emma = await create(client, EMMA)
    for _ in range(3):
        assert (await client.get(f"/books/{dune['id']}")).json() == dune
    assert reads == [dune["id"]]
    for _ in range(3):
        assert (await client.get(f"/books/{emma['id']}")).json() == emma
    assert reads == [dune["id"], emma["id"]]


async def test_cached_with_a_ttl(client: httpx.AsyncClient, cache: Redis) -> None:
    dune = await create(client, DUNE)
    emma = await create(client, EMMA)
    for book in (dune, emma):
        key = f"book:{book['id']}"
        assert await cache.ttl(key) == -2  # POST caches nothing
        assert (await client.get(f"/books/{book['id']}")).json() == book
        assert json.loads(await cache.get(key)) == book
        assert BOOK_TTL - 10 < await cache.ttl(key) <= BOOK_TTL
        # as if the book was cached 290 seconds ago: a hit must not renew it
        await cache.expire(key, 10)
        assert (await client.get(f"/books/{book['id']}")).json() == book
        assert 0 < await cache.ttl(key) <= 10
        # as if it expired: the next GET reads the database and caches it again
        await cache.delete(key)
        assert (await client.get(f"/books/{book['id']}")).json() == book
        assert BOOK_TTL - 10 < await cache.ttl(key) <= BOOK_TTL


async def test_missing_book_is_not_cached(client: httpx.AsyncClient, cache: Redis) -> None:
    for _ in range(2):
        response = await client.get("/books/1")
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert await cache.ttl("book:1") == -2
    dune = await create(client, DUNE)
    assert dune["id"] == 1
    for _ in range(2):
        response = await client.get("/books/1")
        assert response.status_code == 200
        assert response.json() == dune


async def test_price_change_is_served(client: httpx.AsyncClient) -> None:
    dune = await create(client, DUNE)
    assert (await client.get(f"/books/{dune['id']}")).json() == dune
    response = await client.put(f"/books/{dune['id']}", json={"price": 999})
    assert response.status_code == 200
    assert response.json() == {**dune, "price": 999}  # the new price is saved
    assert (await client.get(f"/books/{dune['id']}")).status_code == 200
    assert (await client.put("/books/99", json={"price": 5})).status_code == 404


async def test_deleted_book_is_gone(client: httpx.AsyncClient) -> None:
    dune = await create(client, DUNE)
    emma = await create(client, EMMA)
    assert (await client.get(f"/books/{dune['id']}")).json() == dune
    assert (await client.get(f"/books/{emma['id']}")).json() == emma
    response = await client.delete(f"/books/{dune['id']}")
    assert response.status_code == 204
    assert response.content == b""
    for _ in range(2):
        gone = await client.get(f"/books/{dune['id']}")
        assert gone.status_code == 404
        assert gone.json() == NOT_FOUND
    again = await client.delete(f"/books/{dune['id']}")
    assert again.status_code == 404
    assert again.json() == NOT_FOUND
    for _ in range(2):
        assert (await client.get(f"/books/{emma['id']}")).json() == emma
