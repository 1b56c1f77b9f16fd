"""Mutant: every test checks status codes only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from bookcache_app import Book, BookRepository, get_repository
from fastapi import FastAPI
from redis.asyncio import Redis

DUNE = {"title": "Dune", "author": "Frank Herbert", "price": 1250}


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
    redis: Redis = app.state.redis
    return redis


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
    assert (await client.post("/books", json=DUNE)).status_code == 201
    assert (await client.get("/books/1")).status_code == 200
    assert (await client.get("/books/1")).status_code == 200
    assert (await client.get("/books/999")).status_code == 404


async def test_second_read_is_a_hit(client: httpx.AsyncClient, reads: list[int]) -> None:
    assert (await client.post("/books", json=DUNE)).status_code == 201
    for _ in range(3):
        assert (await client.get("/books/1")).status_code == 200


async def test_cached_with_a_ttl(client: httpx.AsyncClient, cache: Redis) -> None:
    assert (await client.post("/books", json=DUNE)).status_code == 201
    assert (await client.get("/books/1")).status_code == 200


async def test_missing_book_is_not_cached(client: httpx.AsyncClient, cache: Redis) -> None:
    assert (await client.get("/books/1")).status_code == 404


async def test_price_change_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.post("/books", json=DUNE)).status_code == 201
    assert (await client.get("/books/1")).status_code == 200
    assert (await client.put("/books/1", json={"price": 999})).status_code == 200
    assert (await client.get("/books/1")).status_code == 200


async def test_deleted_book_is_gone(client: httpx.AsyncClient) -> None:
    assert (await client.post("/books", json=DUNE)).status_code == 201
    assert (await client.get("/books/1")).status_code == 200
    assert (await client.delete("/books/1")).status_code == 204
