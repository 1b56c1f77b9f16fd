"""Kata 31: write the tests for the bookshop's cached book endpoints (bookcache_app.py).

The grader hands your tests one fixture, `app`: the app, not started yet. Each time its
lifespan starts (your `client` fixture does that) it opens a new, empty database and a new,
empty fakeredis, so every test starts with no books and nothing cached. Don't import an app
from bookcache_app; take `app` as a parameter. Your tests must pass against the real app
and catch the bugs in broken copies of it.
Replace every `raise NotImplementedError(...)` with real code.
"""

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
    # TODO: start the lifespan with LifespanManager, then yield an AsyncClient on an
    # ASGITransport for the managed app (base_url="http://test").
    raise NotImplementedError("client")
    yield  # this line makes the fixture a generator; keep it after your own yield


@pytest.fixture
def cache(app: FastAPI, client: httpx.AsyncClient) -> Redis:
    """The app's own Redis client, to read what the app cached (`get`) and for how long
    (`ttl`). The lifespan makes it, as `app.state.redis`: so this fixture takes `client`."""
    raise NotImplementedError("cache")


@pytest.fixture
def reads(app: FastAPI) -> Iterator[list[int]]:
    """The id of every book the endpoints read from the database, in order.

    Put a spy in `app.dependency_overrides[get_repository]`: a subclass of BookRepository
    whose `get` notes the id, then does the real work. Yield the list; take the override out
    when the test is over.
    """
    raise NotImplementedError("reads")
    yield  # this line makes the fixture a generator; keep it after your own yield


async def test_create_and_read(client: httpx.AsyncClient) -> None:
    """POST /books answers 201 and the book with its id. GET /books/{id} gives each book
    back as it was created: the first time (from the database) and the next (from the
    cache). Use two books. A book that does not exist is a 404."""
    raise NotImplementedError("test_create_and_read")


async def test_second_read_is_a_hit(client: httpx.AsyncClient, reads: list[int]) -> None:
    """Read one book several times: only the first GET reads the database."""
    raise NotImplementedError("test_second_read_is_a_hit")


async def test_cached_with_a_ttl(client: httpx.AsyncClient, cache: Redis) -> None:
    """After a GET, Redis holds the book's JSON under `book:{id}`, with a TTL of about
    BOOK_TTL seconds; and a hit does not renew that TTL."""
    raise NotImplementedError("test_cached_with_a_ttl")


async def test_missing_book_is_not_cached(client: httpx.AsyncClient, cache: Redis) -> None:
    """A GET of a book that does not exist yet is a 404 and caches nothing: once the book
    is created (a new database's first book is id 1), GET finds it."""
    raise NotImplementedError("test_missing_book_is_not_cached")


async def test_price_change_is_served(client: httpx.AsyncClient) -> None:
    """Read a book (now it is cached), PUT a new price: every GET after that serves the new
    price. PUT of a missing book is a 404."""
    raise NotImplementedError("test_price_change_is_served")


async def test_deleted_book_is_gone(client: httpx.AsyncClient, cache: Redis) -> None:
    """Read two books (now both are cached), DELETE one (204): its GET is a 404, and so is
    a second DELETE. The other book is still there, and still cached."""
    raise NotImplementedError("test_deleted_book_is_gone")
