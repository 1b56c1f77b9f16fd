"""Right: AsyncExitStack in the lifespan, a TypedDict state, the API key in the client's
headers via a dict built first, gather over create_task; symbol echoed from the path

The app answers stock quotes. It gets them from another HTTP service, the prices service:

    GET /v1/prices/{symbol}
        200 {"ticker": "ACME", "price": {"amount": "123.45", "currency": "USD"},
             "as_of": "2026-11-25T14:30:00Z", "exchange": "XNYS"}
    GET /v1/companies/{symbol}
        200 {"ticker": "ACME", "name": "Acme Corp", "employees": 1200}

Both answer 404 for a symbol they don't know. Every request must carry the header
`X-Api-Key: <settings.api_key>` (or the service answers 401). Any status other than 200
and 404 means the service is failing; it may also refuse connections, or never answer.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

UNAVAILABLE = "The prices service is unavailable"


@dataclass(frozen=True)
class Settings:
    """Where the prices service is and how to talk to it.

    A real app reads these from the environment (pydantic-settings does that well); the
    tests build their own, with a fake prices service behind `transport`.
    """

    prices_url: str = "https://prices.example.com"  # the prices service's base URL
    api_key: str = "dev-key"  # sent as the X-Api-Key header on every request to it
    timeout: float = 3.0  # seconds; give up on an upstream call after this long
    max_connections: int = 20  # the pool's size: at most this many connections at once
    # Where the client's requests go: None means the network (httpx's own pooled
    # transport). Tests put a fake prices service here.
    transport: httpx.AsyncBaseTransport | None = None


class Quote(BaseModel):
    """GET /quotes/{symbol}."""

    symbol: str
    price: str
    currency: str


class Overview(BaseModel):
    """GET /overview/{symbol}."""

    symbol: str
    name: str
    price: str
    currency: str


def new_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one client of the app: its connection pool to the prices service."""
    options: dict[str, Any] = {
        "base_url": settings.prices_url,
        "headers": {"X-Api-Key": settings.api_key},
        "timeout": httpx.Timeout(settings.timeout, pool=settings.timeout),
        "limits": httpx.Limits(max_connections=settings.max_connections),
    }
    if settings.transport is not None:
        options["transport"] = settings.transport
    return httpx.AsyncClient(**options)


class State(TypedDict):
    http: httpx.AsyncClient


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """One client per run of the lifespan, closed by the exit stack however it ends."""
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(new_http_client(app.state.settings))
        yield State(http=client)


async def get_http_client(request: Request) -> httpx.AsyncClient:
    """A dependency: the app's shared client, from the lifespan state."""
    return request.state.http


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def fetch_json(client: httpx.AsyncClient, path: str, symbol: str) -> dict[str, Any]:
    """GET `path` on the prices service with the shared client; its JSON answer."""
    try:
        response = await client.get(path)
    except httpx.TimeoutException as exc:
        raise HTTPException(status_code=502, detail=UNAVAILABLE) from exc
    except httpx.HTTPError as exc:
        raise HTTPException(status_code=502, detail=UNAVAILABLE) from exc
    if response.status_code == 200:
        return response.json()
    if response.status_code == 404:
        raise HTTPException(status_code=404, detail="Unknown symbol: " + symbol)
    raise HTTPException(status_code=502, detail=UNAVAILABLE)


router = APIRouter()


@router.get("/quotes/{symbol}", response_model=Quote)
async def read_quote(symbol: str, client: HttpClient) -> Quote:
    """The symbol's price from GET /v1/prices/{symbol}, reshaped."""
    body = await fetch_json(client, f"/v1/prices/{symbol}", symbol)
    amount, currency = body["price"]["amount"], body["price"]["currency"]
    return Quote(symbol=symbol, price=amount, currency=currency)


@router.get("/overview/{symbol}", response_model=Overview)
async def read_overview(symbol: str, client: HttpClient) -> Overview:
    """The price and the company's name, both asked for at the same time."""
    paths = (f"/v1/prices/{symbol}", f"/v1/companies/{symbol}")
    tasks = [asyncio.create_task(fetch_json(client, path, symbol)) for path in paths]
    try:
        price, company = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    return Overview(
        symbol=symbol,
        name=company["name"],
        price=price["price"]["amount"],
        currency=price["price"]["currency"],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app: its lifespan, its settings and the routes of `router`."""
    app = FastAPI(title="quotes", lifespan=lifespan)
    app.state.settings = settings if settings is not None else Settings()
    app.include_router(router)
    return app
