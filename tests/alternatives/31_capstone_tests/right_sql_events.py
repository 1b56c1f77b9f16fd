"""Right answer: counts the SELECTs the app sends to the database with a SQLAlchemy event,
instead of overriding the repository; invalidation tests are parametrized."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from bookcache_app import BOOK_TTL
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.engine import Engine


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
def selects() -> Iterator[list[str]]:
    """Every SELECT any engine runs during the test."""
    seen: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        statement: str = args[2]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", before_cursor_execute)
    yield seen
    event.remove(Engine, "before_cursor_execute", before_cursor_execute)


async def add(client: httpx.AsyncClient, **book: Any) -> dict[str, Any]:
    response = await client.post("/books", json=book)
    assert response.status_code == 201
    assert response.json() == {"id": response.json()["id"], **book}
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def book(client: httpx.AsyncClient) -> dict[str, Any]:
    return await add(client, title="Kindred", author="Octavia Butler", price=1399)


async def test_reads_agree(client: httpx.AsyncClient, book: dict[str, Any]) -> None:
    other = await add(client, title="Solaris", author="Stanislaw Lem", price=999)
    for b in (book, other, book, other):
        response = await client.get(f"/books/{b['id']}")
        assert response.status_code == 200
        assert response.json() == b
    assert (await client.get("/books/12345")).json() == {"detail": "book not found"}


async def test_one_select_for_many_reads(
    client: httpx.AsyncClient, book: dict[str, Any], selects: list[str]
) -> None:
    for _ in range(3):
        assert (await client.get(f"/books/{book['id']}")).json() == book
    assert len(selects) == 1


async def test_cache_entry(client: httpx.AsyncClient, book: dict[str, Any], cache: Redis) -> None:
    await client.get(f"/books/{book['id']}")
    key = f"book:{book['id']}"
    assert json.loads(await cache.get(key)) == book
    assert BOOK_TTL - 30 <= await cache.ttl(key) <= BOOK_TTL
    await cache.expire(key, 60)
    await client.get(f"/books/{book['id']}")
    assert 0 < await cache.ttl(key) <= 60


async def test_404_not_remembered(client: httpx.AsyncClient, cache: Redis) -> None:
    assert (await client.get("/books/1")).status_code == 404
    assert await cache.get("book:1") is None
    created = await add(client, title="Kindred", author="Octavia Butler", price=1399)
    assert created["id"] == 1
    assert (await client.get("/books/1")).json() == created


@pytest.mark.parametrize("write", ["put", "delete"])
async def test_writes_invalidate(
    client: httpx.AsyncClient, book: dict[str, Any], cache: Redis, write: str
) -> None:
    url = f"/books/{book['id']}"
    await client.get(url)
    if write == "put":
        assert (await client.put(url, json={"price": 1})).status_code == 200
        after = await client.get(url)
        assert after.json() == {**book, "price": 1}
    else:
        other = await add(client, title="Solaris", author="Stanislaw Lem", price=999)
        await client.get(f"/books/{other['id']}")
        assert (await client.delete(url)).status_code == 204
        after = await client.get(url)
        assert after.status_code == 404
        assert await cache.keys("*") == [f"book:{other['id']}"]
