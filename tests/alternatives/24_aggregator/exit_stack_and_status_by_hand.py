"""Alternative: the lifespan enters the client on an AsyncExitStack and yields a
BoundedSemaphore; fetch_upstream checks the status code by hand and catches Exception."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

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


async def get_client(request: Request) -> httpx.AsyncClient:
    return request.state.client


async def get_limiter(request: Request) -> asyncio.Semaphore:
    return request.state.limiter


ClientDep = Annotated[httpx.AsyncClient, Depends(get_client)]
LimiterDep = Annotated[asyncio.Semaphore, Depends(get_limiter)]


async def fetch_upstream(
    client: httpx.AsyncClient, limiter: asyncio.Semaphore, name: str, url: str, seconds: float
) -> UpstreamResult:
    async with limiter:
        try:
            async with asyncio.timeout(seconds):
                response = await client.get(url)
            if response.status_code >= 400:
                return UpstreamResult(upstream=name, status="error")
            return UpstreamResult(upstream=name, status="ok", data=response.json())
        except TimeoutError:
            return UpstreamResult(upstream=name, status="timeout")
        except Exception:
            return UpstreamResult(upstream=name, status="error")


def create_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(httpx.AsyncClient(transport=transport))
            yield {"client": client, "limiter": asyncio.BoundedSemaphore(settings.max_in_flight)}

    app = FastAPI(lifespan=lifespan)

    @app.get("/dashboard/{user_id}")
    async def dashboard(user_id: int, client: ClientDep, lim: LimiterDep) -> Dashboard:
        names = list(settings.upstreams)
        urls = [settings.upstreams[name].format(user_id=user_id) for name in names]
        results = await asyncio.gather(
            *(
                fetch_upstream(client, lim, name, url, settings.upstream_timeout)
                for name, url in zip(names, urls, strict=True)
            )
        )
        complete = not any(result.status != "ok" for result in results)
        return Dashboard(user_id=user_id, complete=complete, results=results)

    return app
