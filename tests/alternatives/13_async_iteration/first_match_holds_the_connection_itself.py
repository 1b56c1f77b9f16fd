"""Right answer: first_match opens the connection with `async with connected(...)` and loops
over paginate inside it, so the block closes the connection without aclosing; paginate uses a
walrus loop; stream_items uses try/finally."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
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
    number = 1
    while page := await fetch_page(number):
        for item in page:
            yield item
        number += 1


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
    try:
        async for item in paginate(conn.fetch_page):
            yield item
    finally:
        await conn.close()


async def first_match(connect: Connect, predicate: Callable[[Any], bool]) -> Any | None:
    async with connected(connect) as conn:
        async for item in paginate(conn.fetch_page):
            if predicate(item):
                return item
    return None
