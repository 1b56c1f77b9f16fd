"""Right answer: Session keeps a stack of connections (so even nested blocks work), stream_items
holds its connection with Session, and first_match closes the stream with try/finally and
`await items.aclose()` instead of aclosing."""

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
    """Yield every item of page 1, then every item of page 2, and so on.

    Stop at the first empty page, and fetch nothing after it.
    Stream: yield each item as soon as its page has arrived, not after all pages.
    Be lazy: fetch one page at a time, and fetch the next page only when the consumer
    asks for the item after the last one of the page before. A consumer that stops
    early never causes another fetch.
    """
    number = 1
    while True:
        page = await fetch_page(number)
        if not page:
            return
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
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._open: list[Connection] = []

    async def __aenter__(self) -> Connection:
        conn = await self._connect()
        self._open.append(conn)
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        await self._open.pop().close()
        return False


async def stream_items(connect: Connect) -> AsyncIterator[Any]:
    async with Session(connect) as conn:
        async for item in paginate(conn.fetch_page):
            yield item


async def first_match(connect: Connect, predicate: Callable[[Any], bool]) -> Any | None:
    items = stream_items(connect)
    try:
        async for item in items:
            if predicate(item):
                return item
        return None
    finally:
        await items.aclose()
