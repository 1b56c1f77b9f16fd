"""Right answer: the tests grouped in a class, with a small helper object for the shop."""

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


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def cache(app: FastAPI, client: httpx.AsyncClient) -> Redis:
    return app.state.redis  # type: ignore[no-any-return]


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


@dataclass
class Shop:
    client: httpx.AsyncClient

    async def add(self, title: str, author: str, price: int) -> dict[str, Any]:
        response = await self.client.post(
            "/books", json={"title": title, "author": author, "price": price}
        )
        assert response.status_code == 201
        book: dict[str, Any] = response.json()
        assert book == {"id": book["id"], "title": title, "author": author, "price": price}
        return book

    async def book(self, book_id: int) -> httpx.Response:
        return await self.client.get(f"/books/{book_id}")


@pytest.fixture
def shop(client: httpx.AsyncClient) -> Shop:
    return Shop(client)


class TestBookCache:
    async def test_each_book_as_itself(self, shop: Shop) -> None:
        a = await shop.add("Ulysses", "James Joyce", 1500)
        b = await shop.add("Beloved", "Toni Morrison", 1100)
        for book in (a, b, a, b, b, a):
            response = await shop.book(book["id"])
            assert (response.status_code, response.json()) == (200, book)

    async def test_not_found(self, shop: Shop) -> None:
        response = await shop.book(42)
        assert response.status_code == 404

    async def test_hits_do_not_read_the_database(self, shop: Shop, reads: list[int]) -> None:
        book = await shop.add("Ulysses", "James Joyce", 1500)
        for _ in range(4):
            assert (await shop.book(book["id"])).json() == book
        assert reads.count(book["id"]) == 1

    async def test_ttl_set_once(self, shop: Shop, cache: Redis) -> None:
        book = await shop.add("Ulysses", "James Joyce", 1500)
        await shop.book(book["id"])
        key = f"book:{book['id']}"
        assert json.loads(await cache.get(key)) == book
        ttl = await cache.ttl(key)
        assert 0 < ttl <= BOOK_TTL
        assert ttl >= BOOK_TTL - 5
        await cache.expire(key, 3)
        assert (await shop.book(book["id"])).json() == book
        assert await cache.ttl(key) <= 3

    async def test_404_then_created(self, shop: Shop) -> None:
        assert (await shop.book(1)).status_code == 404
        book = await shop.add("Ulysses", "James Joyce", 1500)
        assert (await shop.book(1)).json() == book

    async def test_new_price_served(self, shop: Shop) -> None:
        book = await shop.add("Ulysses", "James Joyce", 1500)
        await shop.book(book["id"])
        changed = await shop.client.put(f"/books/{book['id']}", json={"price": 1})
        assert changed.json() == {**book, "price": 1}
        assert (await shop.book(book["id"])).json() == {**book, "price": 1}

    async def test_deleted_not_served(self, shop: Shop, reads: list[int]) -> None:
        book = await shop.add("Ulysses", "James Joyce", 1500)
        other = await shop.add("Beloved", "Toni Morrison", 1100)
        await shop.book(book["id"])
        await shop.book(other["id"])
        assert (await shop.client.delete(f"/books/{book['id']}")).status_code == 204
        assert (await shop.book(book["id"])).status_code == 404
        assert (await shop.book(other["id"])).json() == other
        assert reads.count(other["id"]) == 1  # still cached: only the deleted book was dropped
