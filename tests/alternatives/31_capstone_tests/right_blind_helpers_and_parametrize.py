"""Right answer (blind review), plus one check added after it: the other book is still cached after
a DELETE. a small API helper class, parametrized tests over both books, a spy built from a
wrapped bound method, and the TTL checked at both ends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from bookcache_app import BOOK_TTL, Book, BookRepository, get_repository
from fastapi import FastAPI
from redis.asyncio import Redis

DUNE = {"title": "Dune", "author": "Frank Herbert", "price": 1250}
EMMA = {"title": "Emma", "author": "Jane Austen", "price": 899}
UNICODE = {"title": "Ærø – «Ünïcödé» 📚", "author": "Łukasz Żółć", "price": 0}


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
    return app.state.redis


@pytest.fixture
def reads(app: FastAPI) -> Iterator[list[int]]:
    log: list[int] = []

    class Spy(BookRepository):
        async def get(self, book_id: int) -> Book | None:
            log.append(book_id)
            return await BookRepository.get(self, book_id)

    app.dependency_overrides[get_repository] = Spy
    yield log
    app.dependency_overrides.pop(get_repository)


@dataclass
class Shop:
    client: httpx.AsyncClient

    async def add(self, data: dict[str, Any]) -> dict[str, Any]:
        r = await self.client.post("/books", json=data)
        assert (r.status_code, r.json()) == (201, {"id": r.json()["id"], **data})
        return r.json()

    async def read(self, book_id: int) -> tuple[int, Any]:
        r = await self.client.get(f"/books/{book_id}")
        assert r.headers["content-type"].startswith("application/json")
        return r.status_code, r.json()


@pytest.fixture
def shop(client: httpx.AsyncClient) -> Shop:
    return Shop(client)


GONE = (404, {"detail": "book not found"})


@pytest.mark.parametrize("first,second", [(DUNE, EMMA), (EMMA, UNICODE)])
async def test_create_and_read(
    client: httpx.AsyncClient, shop: Shop, first: dict[str, Any], second: dict[str, Any]
) -> None:
    a, b = await shop.add(first), await shop.add(second)
    assert (a["id"], b["id"]) == (1, 2)
    for _ in range(3):
        assert await shop.read(a["id"]) == (200, a)
        assert await shop.read(b["id"]) == (200, b)
    assert await shop.read(3) == GONE


async def test_second_read_is_a_hit(
    client: httpx.AsyncClient, reads: list[int], shop: Shop
) -> None:
    a, b = await shop.add(DUNE), await shop.add(EMMA)
    assert await shop.read(b["id"]) == (200, b)
    assert await shop.read(a["id"]) == (200, a)
    assert await shop.read(b["id"]) == (200, b)
    assert await shop.read(a["id"]) == (200, a)
    assert await shop.read(a["id"]) == (200, a)
    assert reads == [b["id"], a["id"]]


@pytest.mark.parametrize("data", [DUNE, EMMA, UNICODE])
async def test_cached_with_a_ttl(
    client: httpx.AsyncClient, cache: Redis, shop: Shop, data: dict[str, Any]
) -> None:
    other = await shop.add(EMMA)
    book = await shop.add(data)
    key = f"book:{book['id']}"
    assert await cache.get(key) is None
    assert await shop.read(book["id"]) == (200, book)
    raw = await cache.get(key)
    assert json.loads(raw) == book
    assert BOOK_TTL - 10 < await cache.ttl(key) <= BOOK_TTL
    await cache.expire(key, 10)
    assert await shop.read(book["id"]) == (200, book)
    ttl = await cache.ttl(key)
    assert 0 < ttl <= 10
    assert await cache.get(f"book:{other['id']}") is None  # never read, never cached


async def test_missing_book_is_not_cached(
    client: httpx.AsyncClient, cache: Redis, shop: Shop
) -> None:
    assert await shop.read(1) == GONE
    assert await shop.read(1) == GONE
    assert await cache.dbsize() == 0
    book = await shop.add(DUNE)
    assert book["id"] == 1
    assert await shop.read(1) == (200, book)
    assert await shop.read(1) == (200, book)


@pytest.mark.parametrize("new_price", [0, 1, 1250, 10**9])
async def test_price_change_is_served(
    client: httpx.AsyncClient, shop: Shop, new_price: int
) -> None:
    a, b = await shop.add(EMMA), await shop.add(DUNE)
    assert await shop.read(a["id"]) == (200, a)
    assert await shop.read(b["id"]) == (200, b)
    r = await client.put(f"/books/{b['id']}", json={"price": new_price})
    changed = {**b, "price": new_price}
    assert (r.status_code, r.json()) == (200, changed)
    for _ in range(3):
        assert await shop.read(b["id"]) == (200, changed)
        assert await shop.read(a["id"]) == (200, a)
    r = await client.put("/books/3", json={"price": 100})
    assert (r.status_code, r.json()) == GONE


async def test_deleted_book_is_gone(client: httpx.AsyncClient, shop: Shop, cache: Redis) -> None:
    a, b = await shop.add(DUNE), await shop.add(EMMA)
    assert await shop.read(a["id"]) == (200, a)
    assert await shop.read(b["id"]) == (200, b)
    r = await client.delete(f"/books/{a['id']}")
    assert (r.status_code, r.content) == (204, b"")
    assert await shop.read(a["id"]) == GONE
    assert await shop.read(a["id"]) == GONE
    r = await client.delete(f"/books/{a['id']}")
    assert (r.status_code, r.json()) == GONE
    assert await cache.get(f"book:{b['id']}") is not None
    assert await shop.read(b["id"]) == (200, b)
    assert await shop.read(b["id"]) == (200, b)
