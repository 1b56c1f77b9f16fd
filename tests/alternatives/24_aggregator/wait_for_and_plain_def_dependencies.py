"""Alternative: asyncio.wait_for per call, plain-def dependencies reading the lifespan state,
a TaskGroup with the tasks kept in a dict."""

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
    client: httpx.AsyncClient
    limiter: asyncio.Semaphore


def get_client(request: Request) -> httpx.AsyncClient:
    return request.state.client


def get_limiter(request: Request) -> asyncio.Semaphore:
    return request.state.limiter


async def fetch_upstream(
    client: httpx.AsyncClient, limiter: asyncio.Semaphore, name: str, url: str, seconds: float
) -> UpstreamResult:
    await limiter.acquire()
    try:
        response = await asyncio.wait_for(client.get(url), timeout=seconds)
    except TimeoutError:
        return UpstreamResult(upstream=name, status="timeout")
    except httpx.HTTPError:
        return UpstreamResult(upstream=name, status="error")
    finally:
        limiter.release()
    if not response.is_success:
        return UpstreamResult(upstream=name, status="error")
    try:
        data = response.json()
    except ValueError:
        return UpstreamResult(upstream=name, status="error")
    return UpstreamResult(upstream=name, status="ok", data=data)


def create_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        client = httpx.AsyncClient(transport=transport)
        try:
            yield {"client": client, "limiter": asyncio.Semaphore(settings.max_in_flight)}
        finally:
            await client.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/dashboard/{user_id}", response_model=Dashboard)
    async def dashboard(
        user_id: int,
        client: Annotated[httpx.AsyncClient, Depends(get_client)],
        limiter: Annotated[asyncio.Semaphore, Depends(get_limiter)],
    ) -> dict[str, Any]:
        tasks: dict[str, asyncio.Task[UpstreamResult]] = {}
        async with asyncio.TaskGroup() as group:
            for name, url in settings.upstreams.items():
                call = fetch_upstream(
                    client, limiter, name, url.format(user_id=user_id), settings.upstream_timeout
                )
                tasks[name] = group.create_task(call)
        results = [tasks[name].result() for name in settings.upstreams]
        return {
            "user_id": user_id,
            "complete": all(result.status == "ok" for result in results),
            "results": [result.model_dump() for result in results],
        }

    return app
