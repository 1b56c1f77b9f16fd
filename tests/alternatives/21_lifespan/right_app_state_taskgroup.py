"""Right: the older app.state style with try/finally and aclose, a TaskGroup with except*
unwrapping, match on the status

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
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
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
    timeout = httpx.Timeout(settings.timeout)
    limits = httpx.Limits(max_connections=settings.max_connections)
    return httpx.AsyncClient(
        transport=settings.transport,
        base_url=settings.prices_url,
        headers={"X-Api-Key": settings.api_key},
        timeout=timeout,
        limits=limits,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """Startup: a fresh client on app.state. Shutdown (or cancel): close it, forget it."""
    client = new_http_client(app.state.settings)
    app.state.http = client
    try:
        yield {}
    finally:
        del app.state.http
        await client.aclose()


async def get_http_client(request: Request) -> httpx.AsyncClient:
    """A dependency: the app's shared client, the one the lifespan made."""
    client: httpx.AsyncClient = request.app.state.http
    return client


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def fetch_json(client: httpx.AsyncClient, path: str, symbol: str) -> dict[str, Any]:
    """GET `path` on the prices service with the shared client; its JSON answer."""
    try:
        response = await client.get(path)
    except httpx.HTTPError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, UNAVAILABLE) from exc
    match response.status_code:
        case 200:
            pass
        case 404:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Unknown symbol: {symbol}")
        case _:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, UNAVAILABLE)
    try:
        data: dict[str, Any] = response.json()
    except ValueError as exc:  # a 200 that is not JSON: the service is broken
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, UNAVAILABLE) from exc
    return data


router = APIRouter()


@router.get("/quotes/{symbol}")
async def read_quote(symbol: str, client: HttpClient) -> Quote:
    """The symbol's price from GET /v1/prices/{symbol}, reshaped."""
    quote = await fetch_json(client, f"/v1/prices/{symbol}", symbol)
    money = quote["price"]
    return Quote(symbol=symbol, price=money["amount"], currency=money["currency"])


@router.get("/overview/{symbol}")
async def read_overview(symbol: str, client: HttpClient) -> Overview:
    """The price and the company's name, both asked for at the same time."""
    try:
        async with asyncio.TaskGroup() as tg:
            prices = tg.create_task(fetch_json(client, f"/v1/prices/{symbol}", symbol))
            companies = tg.create_task(fetch_json(client, f"/v1/companies/{symbol}", symbol))
    except* HTTPException as group:
        raise group.exceptions[0] from None
    money = prices.result()["price"]
    return Overview(
        symbol=symbol,
        name=companies.result()["name"],
        price=money["amount"],
        currency=money["currency"],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app: its lifespan, its settings and the routes of `router`."""
    app = FastAPI(lifespan=lifespan)
    app.state.settings = Settings() if settings is None else settings
    app.include_router(router)
    return app
