"""Mutant (blind review): first_match catches any error (fetch or predicate) and returns None."""

from __future__ import annotations

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
    """Connect, yield every item of every page like `paginate`, and close the connection.

    Streaming and lazy, like `paginate`: nothing is fetched before it is needed.
    The connection is closed (awaited, exactly once) however the consumer leaves: after
    the last item; when its task is cancelled while this generator waits for a page; and
    when it closes this generator early (`aclosing`, or `await items.aclose()`) after a
    `break`, an error or a cancel in its own loop.
    """
    async with connected(connect) as conn:
        async for item in paginate(conn.fetch_page):
            yield item


async def first_match(connect: Connect, predicate: Callable[[Any], bool]) -> Any | None:
    """Return the first item of `stream_items(connect)` for which `predicate(item)` is true.

    No item matches (or there are none): return None.
    Stop as soon as you have it: no page after the match is fetched. The connection must
    be closed by the time first_match returns or raises.
    """
    try:
        async with aclosing(stream_items(connect)) as items:
            async for item in items:
                if predicate(item):
                    return item
    except Exception:
        return None
    return None
