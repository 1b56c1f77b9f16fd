"""Mutant (blind review): the upstreams are awaited one after another in a for loop (the page
takes the sum)"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

import httpx
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel


@dataclass(frozen=True)
class Settings:
    """How the aggregator reaches its upstreams (given)."""

    # name -> URL with a {user_id} placeholder, in the order the dashboard lists them
    upstreams: dict[str, str]
    # at most this many upstream calls at once, counting every request of the app together
    max_in_flight: int = 4
    # seconds one upstream call may take, counted from when it holds its slot
    upstream_timeout: float = 1.0


class UpstreamResult(BaseModel):
    """What one upstream gave (given)."""

    upstream: str  # its name, as in Settings.upstreams
    status: Literal["ok", "timeout", "error"]
    data: Any = None  # the upstream's JSON body when the status is "ok"; else None


class Dashboard(BaseModel):
    """The aggregated answer (given)."""

    user_id: int
    complete: bool  # True only when every upstream is "ok"
    results: list[UpstreamResult]  # one per upstream, in the order of Settings.upstreams


class State(TypedDict):
    """What the lifespan yields (given): FastAPI hands it to every request as
    `request.state`. Keeping the two on `app.state` instead works as well."""

    client: httpx.AsyncClient
    limiter: asyncio.Semaphore


async def get_client(request: Request) -> httpx.AsyncClient:
    """A dependency: the app's one shared httpx.AsyncClient, the one the lifespan made.

    Give back what the lifespan yielded (`request.state.client`), or what it kept on
    `request.app.state`. Never make a client here: that would be one per request.
    """
    return request.state.client


async def get_limiter(request: Request) -> asyncio.Semaphore:
    """A dependency: the app's one asyncio.Semaphore, the one the lifespan made.

    Every request gets the same semaphore, so the bound counts all their calls together.
    """
    return request.state.limiter


ClientDep = Annotated[httpx.AsyncClient, Depends(get_client)]
LimiterDep = Annotated[asyncio.Semaphore, Depends(get_limiter)]


async def fetch_upstream(
    client: httpx.AsyncClient, limiter: asyncio.Semaphore, name: str, url: str, seconds: float
) -> UpstreamResult:
    """Call one upstream (`await client.get(url)`) and say how it went.

    - First wait for a slot of `limiter`; hold it for the call, and give it back however
      the call ends.
    - Once you hold the slot, the call gets `seconds` seconds (asyncio.timeout). Too slow:
      status "timeout" (the timeout cancels the call; that is what you want).
    - A 2xx answer: status "ok", with `data` the answer's JSON body.
    - A 4xx or 5xx answer, or a connection refused or dropped (any httpx.HTTPError;
      `response.raise_for_status()` raises one for a 4xx or 5xx): status "error".
    - `data` is None unless the status is "ok".
    The upstream's failure never escapes from here: it becomes the status. A cancel of the
    whole request (CancelledError) is not a failure of the upstream: let it through.
    """
    async with limiter:
        try:
            async with asyncio.timeout(seconds):
                response = await client.get(url)
                response.raise_for_status()
                data = response.json()
        except TimeoutError:
            return UpstreamResult(upstream=name, status="timeout")
        except httpx.HTTPError:
            return UpstreamResult(upstream=name, status="error")
    return UpstreamResult(upstream=name, status="ok", data=data)


def create_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """A fresh aggregator app.

    `transport` is for the app's httpx.AsyncClient: `httpx.AsyncClient(transport=transport)`
    (None means the real network; the tests pass fake upstreams).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        """Runs once: up to the `yield` at startup, after it at shutdown.

        Make ONE httpx.AsyncClient for the whole app (closed at shutdown) and ONE
        asyncio.Semaphore(settings.max_in_flight), and yield them as the State (or keep
        them on app.state), where get_client and get_limiter find them.
        """
        async with httpx.AsyncClient(transport=transport) as client:
            yield {"client": client, "limiter": asyncio.Semaphore(settings.max_in_flight)}

    app = FastAPI(title="Dashboard", lifespan=lifespan)

    @app.get("/dashboard/{user_id}")
    async def dashboard(user_id: int, client: ClientDep, limiter: LimiterDep) -> Dashboard:
        """Every upstream's answer for this user, fetched all at once.

        Call fetch_upstream for each (name, url) of settings.upstreams, with
        `url.format(user_id=user_id)` and settings.upstream_timeout, all at the same time
        (asyncio.gather or a TaskGroup). Results in the order of settings.upstreams;
        `complete` is True only when every status is "ok". Always 200, whatever failed.
        """
        results = []
        for name, url in settings.upstreams.items():
            results.append(
                await fetch_upstream(
                    client, limiter, name, url.format(user_id=user_id), settings.upstream_timeout
                )
            )
        return Dashboard(
            user_id=user_id,
            complete=all(r.status == "ok" for r in results),
            results=results,
        )

    return app
