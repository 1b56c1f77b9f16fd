"""Mutant: the semaphore allows one call more than max_in_flight."""

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
    """A dependency: the app's one shared httpx.AsyncClient, made by the lifespan."""
    return request.state.client


async def get_limiter(request: Request) -> asyncio.Semaphore:
    """A dependency: the app's one semaphore, made by the lifespan."""
    return request.state.limiter


ClientDep = Annotated[httpx.AsyncClient, Depends(get_client)]
LimiterDep = Annotated[asyncio.Semaphore, Depends(get_limiter)]


async def fetch_upstream(
    client: httpx.AsyncClient, limiter: asyncio.Semaphore, name: str, url: str, seconds: float
) -> UpstreamResult:
    """Call one upstream and say how it went; never raises for the upstream's failure."""
    async with limiter:  # wait for a slot first: the queue is ours, not the upstream's
        try:
            async with asyncio.timeout(seconds):
                response = await client.get(url)
                response.raise_for_status()  # a 500 is an error, not data
                data = response.json()
        except TimeoutError:
            return UpstreamResult(upstream=name, status="timeout")
        except (httpx.HTTPError, ValueError):  # a status error, a dropped connection, bad JSON
            return UpstreamResult(upstream=name, status="error")
    return UpstreamResult(upstream=name, status="ok", data=data)


def create_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """A fresh aggregator app; `transport` goes to the shared client (None: the network)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with httpx.AsyncClient(transport=transport) as client:  # closed at shutdown
            yield {"client": client, "limiter": asyncio.Semaphore(settings.max_in_flight + 1)}

    app = FastAPI(title="Dashboard", lifespan=lifespan)

    @app.get("/dashboard/{user_id}")
    async def dashboard(user_id: int, client: ClientDep, limiter: LimiterDep) -> Dashboard:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    fetch_upstream(
                        client,
                        limiter,
                        name,
                        url.format(user_id=user_id),
                        settings.upstream_timeout,
                    )
                )
                for name, url in settings.upstreams.items()
            ]
        results = [task.result() for task in tasks]
        complete = all(result.status == "ok" for result in results)
        return Dashboard(user_id=user_id, complete=complete, results=results)

    return app
