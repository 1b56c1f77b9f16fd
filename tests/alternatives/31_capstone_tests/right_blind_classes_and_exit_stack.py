"""Right answer (blind review), plus one check added after it: the other book is still cached after
a DELETE. test classes, an AsyncExitStack client fixture, a spy that counts reads per id, and
direct checks of the Redis keys after every write."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
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
    async with AsyncExitStack() as stack:
        manager = await stack.enter_async_context(LifespanManager(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
            )
        )
        yield client


@pytest.fixture
def cache(app: FastAPI, client: httpx.AsyncClient) -> Redis:
    return app.state.redis


@pytest.fixture
def reads(app: FastAPI) -> Iterator[list[int]]:
    seen: list[int] = []

    class CountingRepository(BookRepository):
        async def get(self, book_id: int) -> Book | None:
            seen.append(book_id)
            return await super().get(book_id)

    app.dependency_overrides[get_repository] = CountingRepository
    try:
        yield seen
    finally:
        del app.dependency_overrides[get_repository]


def key(book: dict[str, Any]) -> str:
    return f"book:{book['id']}"


async def post(client: httpx.AsyncClient, data: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/books", json=data)
    assert response.status_code == 201, response.text
    body = response.json()
    assert isinstance(body["id"], int)
    assert {k: v for k, v in body.items() if k != "id"} == data
    return body


async def get_ok(client: httpx.AsyncClient, book: dict[str, Any]) -> None:
    response = await client.get(f"/books/{book['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == book


async def get_missing(client: httpx.AsyncClient, book_id: int) -> None:
    response = await client.get(f"/books/{book_id}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


class TestReading:
    async def test_create_and_read(self, client: httpx.AsyncClient) -> None:
        books = [await post(client, DUNE), await post(client, EMMA)]
        assert [b["id"] for b in books] == [1, 2]
        await get_missing(client, 3)
        for book in books + books + books[::-1]:
            await get_ok(client, book)
        await get_missing(client, 3)

    async def test_second_read_is_a_hit(self, client: httpx.AsyncClient, reads: list[int]) -> None:
        dune, emma = await post(client, DUNE), await post(client, EMMA)
        for _ in range(4):
            await get_ok(client, dune)
            await get_ok(client, emma)
        assert Counter(reads) == {dune["id"]: 1, emma["id"]: 1}
        assert reads == [dune["id"], emma["id"]]

    async def test_miss_after_expiry_reads_again(
        self, client: httpx.AsyncClient, cache: Redis, reads: list[int]
    ) -> None:
        dune = await post(client, DUNE)
        await get_ok(client, dune)
        await cache.delete(key(dune))  # as if it had expired
        await get_ok(client, dune)
        await get_ok(client, dune)
        assert reads == [dune["id"], dune["id"]]


class TestRedis:
    async def test_cached_with_a_ttl(self, client: httpx.AsyncClient, cache: Redis) -> None:
        dune, emma = await post(client, DUNE), await post(client, EMMA)
        assert await cache.exists(key(dune), key(emma)) == 0
        await get_ok(client, dune)
        assert await cache.exists(key(emma)) == 0  # only what was read is cached
        await get_ok(client, emma)
        for book in (dune, emma):
            stored = await cache.get(key(book))
            assert stored is not None
            assert json.loads(stored) == book
            ttl = await cache.ttl(key(book))
            assert BOOK_TTL - 10 < ttl <= BOOK_TTL
        await cache.expire(key(dune), 7)
        for _ in range(3):
            await get_ok(client, dune)
        assert 0 < await cache.ttl(key(dune)) <= 7
        assert BOOK_TTL - 10 < await cache.ttl(key(emma)) <= BOOK_TTL

    async def test_missing_book_is_not_cached(
        self, client: httpx.AsyncClient, cache: Redis
    ) -> None:
        await get_missing(client, 1)
        await get_missing(client, 1)
        assert await cache.get("book:1") is None
        assert await cache.keys("*") == []
        dune = await post(client, DUNE)
        assert dune["id"] == 1
        await get_ok(client, dune)
        await get_ok(client, dune)


class TestWrites:
    async def test_price_change_is_served(self, client: httpx.AsyncClient, cache: Redis) -> None:
        dune, emma = await post(client, DUNE), await post(client, EMMA)
        await get_ok(client, dune)
        await get_ok(client, emma)
        response = await client.put(f"/books/{dune['id']}", json={"price": 1500})
        assert response.status_code == 200
        dune = {**dune, "price": 1500}
        assert response.json() == dune
        assert await cache.get(key(dune)) is None  # dropped
        assert await cache.get(key(emma)) is not None  # the other one kept
        await get_ok(client, dune)
        await get_ok(client, dune)
        await get_ok(client, emma)
        response = await client.put("/books/42", json={"price": 1})
        assert response.status_code == 404
        assert response.json() == NOT_FOUND

    async def test_deleted_book_is_gone(self, client: httpx.AsyncClient, cache: Redis) -> None:
        dune, emma = await post(client, DUNE), await post(client, EMMA)
        await get_ok(client, dune)
        await get_ok(client, emma)
        response = await client.delete(f"/books/{dune['id']}")
        assert response.status_code == 204
        assert not response.content
        assert await cache.get(key(dune)) is None
        await get_missing(client, dune["id"])
        await get_missing(client, dune["id"])
        second = await client.delete(f"/books/{dune['id']}")
        assert second.status_code == 404
        assert second.json() == NOT_FOUND
        assert await cache.get(key(emma)) is not None
        await get_ok(client, emma)
        await get_ok(client, emma)
