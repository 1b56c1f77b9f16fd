"""Right answer (blind review): get_session delegates to an @asynccontextmanager helper (async
with ... yield) and read_item uses a walrus."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Query, status
from fastapi.responses import StreamingResponse


class Session(Protocol):
    """One database session: borrowed from the pool for one request, then closed.

    Every method may also raise an error of its own when the database fails.
    """

    async def get_item(self, item_id: int) -> dict[str, Any] | None:
        """The item with this id, or None when there is no such item."""
        ...

    async def list_items(
        self, offset: int, limit: int, owner: str | None = None
    ) -> list[dict[str, Any]]:
        """Up to `limit` items after skipping `offset`; only `owner`'s items if given."""
        ...

    async def user_for_token(self, token: str) -> str | None:
        """The name of the user this token belongs to, or None."""
        ...

    async def close(self) -> None:
        """Give the session back to the pool. Await it exactly once; don't use it after."""
        ...


class Pool(Protocol):
    """The app's database pool."""

    async def open_session(self) -> Session:
        """A new session, yours until you close it."""
        ...


app = FastAPI(title="Items")


def get_pool() -> Pool:
    """The app's pool (given). Take it with `Annotated[Pool, Depends(get_pool)]`.

    A real app would create the pool in its lifespan. Here the tests plug in a fake pool
    they can inspect, with `app.dependency_overrides[get_pool] = lambda: fake_pool`.
    """
    raise RuntimeError("No database here: the tests provide one with dependency_overrides.")


@asynccontextmanager
async def session_scope(pool: "Pool") -> AsyncIterator["Session"]:
    session = await pool.open_session()
    try:
        yield session
    finally:
        await session.close()


async def get_session(pool: Annotated[Pool, Depends(get_pool)]) -> AsyncIterator[Session]:
    """A dependency with `yield`: the request's database session.

    Open a session with `await pool.open_session()` before the endpoint runs, hand it
    over with `yield`, and close it (`await session.close()`, exactly once) when the
    request is over, however it ends: a response was sent, the endpoint or another
    dependency raised HTTPException or any other error, or the request was cancelled.
    Never hide an error that comes out of the `yield`: it must go on up.

    Every request gets a session of its own, also when requests run at the same time.
    Within one request there is exactly one session: everything that takes SessionDep
    shares it (FastAPI calls get_session once per request and reuses the value).
    """
    async with session_scope(pool) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


class Pagination:
    """A class dependency: the paging query parameters, `?offset=...&limit=...`.

    - offset: how many items to skip; a whole number, at least 0; default 0.
    - limit: at most how many items to return; a whole number from 1 to 50; default 10.
    Anything else is answered with 422 by FastAPI, before any endpoint runs.
    Keep the two values on the instance as `self.offset` and `self.limit`.
    Endpoints take it as `Annotated[Pagination, Depends()]` (PageDep, below).
    """

    def __init__(
        self,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> None:
        self.offset = offset
        self.limit = limit


PageDep = Annotated[Pagination, Depends()]


async def get_current_user(
    session: SessionDep, x_token: Annotated[str | None, Header()] = None
) -> str:
    """A sub-dependency: the name of the user whose token is in the X-Token header.

    Look the token up with `await session.user_for_token(token)`, on the request's own
    session (SessionDep, the one the endpoint gets too). No X-Token header, or a token
    that belongs to nobody: raise HTTPException with status 401.
    """
    if x_token is None:
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Missing X-Token")
    user = await session.user_for_token(x_token)
    if user is None:
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Unknown X-Token")
    return user


UserDep = Annotated[str, Depends(get_current_user)]


@app.get("/items/export")
async def export_items(session: SessionDep) -> StreamingResponse:
    """Given: every item as a CSV line "id,name", two items per database read.

    The lines are read while the response is being sent, after this function has
    returned: the session must stay open until the last line is out.
    """

    async def lines() -> AsyncIterator[str]:
        offset = 0
        while page := await session.list_items(offset, 2):
            for item in page:
                yield f"{item['id']},{item['name']}\n"
            offset += len(page)

    return StreamingResponse(lines(), media_type="text/csv")


@app.get("/items")
async def list_items(session: SessionDep, page: PageDep) -> dict[str, Any]:
    """One page of items: {"offset": ..., "limit": ..., "items": [...]}.

    The items are what `await session.list_items(offset, limit)` gives back.
    """
    items = await session.list_items(page.offset, page.limit)
    return {"offset": page.offset, "limit": page.limit, "items": items}


@app.get("/items/{item_id}")
async def read_item(item_id: int, session: SessionDep) -> dict[str, Any]:
    """The item, as `await session.get_item(item_id)` gives it back.

    No such item: 404 (HTTPException). Any other error from the session is not yours to
    handle: let it go on up (FastAPI answers 500, and the session is still closed).
    """
    if (item := await session.get_item(item_id)) is not None:
        return item
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Item not found")


@app.get("/me/items")
async def my_items(user: UserDep, session: SessionDep, page: PageDep) -> dict[str, Any]:
    """One page of the current user's items: {"user": ..., "items": [...]}.

    The items are what `await session.list_items(offset, limit, owner=user)` gives back.
    The user and the items are read on the same session: one session per request.
    """
    items = await session.list_items(page.offset, page.limit, owner=user)
    return {"user": user, "items": items}
