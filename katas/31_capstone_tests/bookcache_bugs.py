"""Broken copies of the cached book endpoints: the grader runs your tests against each.

Try not to read this before your tests are written: a good test suite catches bugs it was
not written for. Each bug is one realistic mistake, described the way a bug report would.
Below, the three cache endpoints of bookcache_app.py are copied once more, with a switch
for each mistake; every broken app turns on exactly one of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bookcache_app import (
    BOOK_TTL,
    Book,
    PriceIn,
    RedisDep,
    RepositoryDep,
    book_key,
    create_app,
)
from fastapi import FastAPI, HTTPException, Response, status
from fastapi.routing import APIRoute


def _replace_route(
    app: FastAPI, method: str, path: str, endpoint: Callable[..., Any], **kw: Any
) -> None:
    app.router.routes[:] = [
        r
        for r in app.router.routes
        if not (isinstance(r, APIRoute) and r.path == path and method in r.methods)
    ]
    app.add_api_route(path, endpoint, methods=[method], **kw)


def _broken(
    *,
    key: Callable[[int], str] = book_key,
    ttl: int | None = BOOK_TTL,
    unit: str = "ex",
    renew_on_hit: bool = False,
    database_first: bool = False,
    cache_missing: bool = False,
    fields_as_text: bool = False,
    drop_on_put: bool = True,
    drop_on_delete: str = "key",
) -> Callable[..., FastAPI]:
    def build(**options: Any) -> FastAPI:
        app = create_app(**options)

        async def read_book(book_id: int, repo: RepositoryDep, redis: RedisDep) -> Response:
            if database_first:
                book = await repo.get(book_id)  # asked before the cache, hit or miss
            if renew_on_hit:
                cached = await redis.getex(key(book_id), ex=BOOK_TTL)  # GETEX: a new TTL
            else:
                cached = await redis.get(key(book_id))
            if cached is not None:
                if cache_missing and json.loads(cached) is None:
                    raise HTTPException(status.HTTP_404_NOT_FOUND, "book not found")
                return Response(cached, media_type="application/json")
            if not database_first:
                book = await repo.get(book_id)
            if book is None:
                if cache_missing:  # "no such book" cached like any answer
                    await redis.set(key(book_id), "null", **{unit: ttl})
                raise HTTPException(status.HTTP_404_NOT_FOUND, "book not found")
            text = book.model_dump_json()
            if fields_as_text:  # "Redis keeps strings": every field through str()
                stored = json.dumps({name: str(v) for name, v in book.model_dump().items()})
            else:
                stored = text
            await redis.set(key(book_id), stored, **{unit: ttl})  # ex: seconds, px: ms
            return Response(text, media_type="application/json")

        async def change_price(
            book_id: int, data: PriceIn, repo: RepositoryDep, redis: RedisDep
        ) -> Book:
            book = await repo.set_price(book_id, data.price)
            if book is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "book not found")
            if drop_on_put:
                await redis.delete(key(book_id))
            return book

        async def delete_book(book_id: int, repo: RepositoryDep, redis: RedisDep) -> None:
            if not await repo.delete(book_id):
                raise HTTPException(status.HTTP_404_NOT_FOUND, "book not found")
            if drop_on_delete == "key":
                await redis.delete(key(book_id))
            elif drop_on_delete == "all":
                await redis.flushdb()  # every cached book gone, not just this one

        _replace_route(app, "GET", "/books/{book_id}", read_book)
        _replace_route(app, "PUT", "/books/{book_id}", change_price)
        _replace_route(
            app, "DELETE", "/books/{book_id}", delete_book, status_code=status.HTTP_204_NO_CONTENT
        )
        return app

    return build


def _key_of_builtin_id(book_id: int) -> str:
    return f"book:{id}"  # the builtin `id`, not book_id: one key for every book


# id -> (what the bug report says, how to build the broken app from create_app's options)
BUGS: dict[str, tuple[str, Callable[..., FastAPI]]] = {
    "no-ttl": (
        "a cached book never expires: it is stored in Redis without a TTL",
        _broken(ttl=None),
    ),
    "ttl-milliseconds": (
        "a cached book expires after 0.3 seconds, not 5 minutes: its TTL was given in ms",
        _broken(unit="px"),
    ),
    "ttl-renewed": (
        "every cache hit renews the book's TTL, so a book read often is never fetched fresh",
        _broken(renew_on_hit=True),
    ),
    "hit-reads-database": (
        "a cache hit still reads the book from the database, so the cache saves nothing",
        _broken(database_first=True),
    ),
    "one-key": (
        "every book is cached under the same key, so GET /books/2 can answer book 1",
        _broken(key=_key_of_builtin_id),
    ),
    "missing-cached": (
        "a 404 is cached: a book asked for before it existed is still 404 once created",
        _broken(cache_missing=True),
    ),
    "put-stale": (
        "after PUT /books/{id} changes the price, GET still serves the old price",
        _broken(drop_on_put=False),
    ),
    "delete-stale": (
        "after DELETE /books/{id}, GET still serves the deleted book from the cache",
        _broken(drop_on_delete="none"),
    ),
    "delete-flushes-cache": (
        "DELETE /books/{id} empties the whole cache (FLUSHDB), not just that book's copy",
        _broken(drop_on_delete="all"),
    ),
    "fields-as-text": (
        'a book served from the cache has its id and price as text ("1250"), not numbers',
        _broken(fields_as_text=True),
    ),
}
