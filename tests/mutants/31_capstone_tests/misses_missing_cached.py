"""Mutant (misses one bug): never creates a book after a 404 for it."""

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


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on `app`, with its lifespan running: the database and Redis open."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        yield client


@pytest.fixture
def cache(app: FastAPI, client: httpx.AsyncClient) -> Redis:
    """The app's own Redis client, to read what the app cached and for how long."""
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


async def create(client: httpx.AsyncClient, book: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/books", json=book)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created == {"id": created["id"], **book}
    return created


async def test_create_and_read(client: httpx.AsyncClient) -> None:
    dune = await create(client, DUNE)
    emma = await create(client, EMMA)
    assert dune["id"] != emma["id"]
    for _ in range(2):  # the first round misses the cache, the second hits it
        for book in (dune, emma):
            response = await client.get(f"/books/{book['id']}")
            assert response.status_code == 200
            assert response.json() == book
    missing = await client.get("/books/999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "book not found"}


async def test_second_read_is_a_hit(client: httpx.AsyncClient, reads: list[int]) -> None:
    dune = await create(client, DUNE)
    for _ in range(3):
        assert (await client.get(f"/books/{dune['id']}")).json() == dune
    assert reads == [dune["id"]], "only the first GET may read the database"


async def test_cached_with_a_ttl(client: httpx.AsyncClient, cache: Redis) -> None:
    dune = await create(client, DUNE)
    key = f"book:{dune['id']}"
    await client.get(f"/books/{dune['id']}")
    cached = await cache.get(key)
    assert cached is not None, f"nothing cached under {key}"
    assert json.loads(cached) == dune
    assert BOOK_TTL - 10 < await cache.ttl(key) <= BOOK_TTL
    await cache.expire(key, 10)  # as if it had been cached 290 seconds ago
    assert (await client.get(f"/books/{dune['id']}")).json() == dune  # a hit
    assert 0 < await cache.ttl(key) <= 10, "a hit must not renew the TTL"


async def test_price_change_is_served(client: httpx.AsyncClient) -> None:
    dune = await create(client, DUNE)
    url = f"/books/{dune['id']}"
    assert (await client.get(url)).json() == dune  # cached now
    response = await client.put(url, json={"price": 999})
    assert response.status_code == 200
    assert response.json() == {**dune, "price": 999}
    for _ in range(2):
        assert (await client.get(url)).json() == {**dune, "price": 999}
    assert (await client.put("/books/999", json={"price": 1})).status_code == 404


async def test_deleted_book_is_gone(client: httpx.AsyncClient, cache: Redis) -> None:
    dune = await create(client, DUNE)
    emma = await create(client, EMMA)
    url = f"/books/{dune['id']}"
    assert (await client.get(url)).json() == dune  # cached now
    assert (await client.get(f"/books/{emma['id']}")).json() == emma  # cached too
    response = await client.delete(url)
    assert response.status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404
    assert await cache.get(f"book:{emma['id']}") is not None, "only dune's copy may go"
    assert (await client.get(f"/books/{emma['id']}")).json() == emma
