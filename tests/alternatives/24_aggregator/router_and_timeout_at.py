"""Alternative: a module-level APIRouter that reads the settings from app.state, a
deadline with asyncio.timeout_at, and a TaskGroup whose tasks are read in order."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
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


async def get_client(request: Request) -> httpx.AsyncClient:
    return request.state.client


async def get_limiter(request: Request) -> asyncio.Semaphore:
    return request.state.limiter


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def fetch_upstream(
    client: httpx.AsyncClient, limiter: asyncio.Semaphore, name: str, url: str, seconds: float
) -> UpstreamResult:
    async with limiter:
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.get(url)
                response.raise_for_status()
                data = response.json()
        except TimeoutError:
            return UpstreamResult(upstream=name, status="timeout")
        except (httpx.HTTPError, ValueError):
            return UpstreamResult(upstream=name, status="error")
        return UpstreamResult(upstream=name, status="ok", data=data)


router = APIRouter()


@router.get("/dashboard/{user_id}")
async def dashboard(
    user_id: int,
    client: Annotated[httpx.AsyncClient, Depends(get_client)],
    limiter: Annotated[asyncio.Semaphore, Depends(get_limiter)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Dashboard:
    async with asyncio.TaskGroup() as group:
        tasks = {
            name: group.create_task(
                fetch_upstream(
                    client, limiter, name, url.format(user_id=user_id), settings.upstream_timeout
                )
            )
            for name, url in settings.upstreams.items()
        }
    results = [task.result() for task in tasks.values()]
    return Dashboard(
        user_id=user_id, complete=all(r.status == "ok" for r in results), results=results
    )


def create_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with httpx.AsyncClient(transport=transport) as client:
            yield State(client=client, limiter=asyncio.Semaphore(settings.max_in_flight))

    app = FastAPI(lifespan=lifespan)
    app.state.settings = settings
    app.include_router(router)
    return app
