"""Right answer: paginate walks pages with itertools.count, stream_items drives paginate with
anext() inside try/finally, first_match uses anext() until StopAsyncIteration."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from types import TracebackType
from typing import Any, Protocol


class Connection(Protocol):
    """What `await connect()` gives you: an open connection to a paginated API."""

    async def fetch_page(self, number: int) -> Sequence[Any]:
        """The items on page `number` (pages count from 1). Past the last page: empty."""
        ...

    async def close(self) -> None:
        """Close the connection. Await it, exactly once per connection."""
        ...


Connect = Callable[[], Awaitable[Connection]]


async def paginate(fetch_page: Callable[[int], Awaitable[Sequence[Any]]]) -> AsyncIterator[Any]:
    for number in itertools.count(1):
        page = await fetch_page(number)
        if len(page) == 0:
            break
        for item in page:
            yield item


@asynccontextmanager
async def connected(connect: Connect) -> AsyncIterator[Connection]:
    """`async with connected(connect) as conn:` opens a connection and always closes it.

    On the way in, await `connect()` and hand the connection to the block. On the way
    out, await `conn.close()` exactly once, however the block ends: normally, with an
    error, or because its task was cancelled. Never hide the block's error: it must reach
    the caller unchanged. Each call of `connected(connect)` opens its own connection.
    """
    conn = await connect()
    try:
        yield conn
    finally:
        await conn.close()


class Session:
    """The same job as `connected`, as a class that can be used again and again.

    `async with session as conn:` awaits `connect()` on the way in and gives the block
    the connection; on the way out it awaits `conn.close()` exactly once, however the
    block ends, and never hides the block's error. When a block has ended (even with an
    error), the same Session can be used for another `async with` block, which gets a
    fresh connection of its own. (Two blocks on one Session at the same time are not
    needed.)
    """

    def __init__(self, connect: Connect) -> None:
        """Remember `connect`; don't connect yet (that needs an await)."""
        self._connect = connect
        self._conn: Connection | None = None

    async def __aenter__(self) -> Connection:
        """Open a new connection, keep it, and return it (that is what `as` gets)."""
        self._conn = await self._connect()
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close this block's connection; let any error of the block go on."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


async def stream_items(connect: Connect) -> AsyncIterator[Any]:
    conn = await connect()
    pages = paginate(conn.fetch_page)
    try:
        while True:
            try:
                item = await anext(pages)
            except StopAsyncIteration:
                return
            yield item
    finally:
        await pages.aclose()
        await conn.close()


async def first_match(connect: Connect, predicate: Callable[[Any], bool]) -> Any | None:
    async with aclosing(stream_items(connect)) as items:
        while True:
            try:
                item = await anext(items)
            except StopAsyncIteration:
                return None
            if predicate(item):
                return item
