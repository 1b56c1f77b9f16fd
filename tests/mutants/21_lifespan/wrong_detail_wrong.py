"""Mutant: the 404 detail is "Symbol not found" and the 502 detail the exception text, not
the documented messages

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
    """The one client of the app: its connection pool to the prices service.

    Configure it once, here: the base URL (settings.prices_url), the X-Api-Key header,
    a timeout of settings.timeout seconds, a pool of at most settings.max_connections
    connections (httpx.Limits), and settings.transport.
    """
    return httpx.AsyncClient(
        base_url=settings.prices_url,
        headers={"X-Api-Key": settings.api_key},
        timeout=settings.timeout,
        limits=httpx.Limits(max_connections=settings.max_connections),
        transport=settings.transport,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """The app's lifespan: the code before `yield` runs at startup, after it at shutdown.

    Make the app's client (new_http_client, from the settings create_app kept on
    app.state) before the first request, hand it to the requests (yield it in the
    lifespan state, or keep it on app.state), and close it when the lifespan ends,
    however it ends: a clean shutdown or a cancel. Every startup makes a fresh client.
    """
    async with new_http_client(app.state.settings) as client:
        yield {"http": client}


async def get_http_client(request: Request) -> httpx.AsyncClient:
    """A dependency: the app's shared client, the one the lifespan made.

    Read it from the request (request.state.http for the lifespan state, or
    request.app.state.http). Never make a client here: this runs on every request.
    """
    return request.state.http


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def fetch_json(client: httpx.AsyncClient, path: str, symbol: str) -> dict[str, Any]:
    """GET `path` on the prices service with the shared client; its JSON answer.

    - 404 from the service: raise HTTPException 404, detail f"Unknown symbol: {symbol}".
    - Any other failure (another status than 200, a refused connection, a timeout):
      raise HTTPException 502, detail UNAVAILABLE. Don't close or replace the client.
    """
    try:
        response = await client.get(path)
    except httpx.HTTPError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=str(exc) or UNAVAILABLE) from exc
    if response.status_code == status.HTTP_404_NOT_FOUND:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Symbol not found")
    if response.status_code != status.HTTP_200_OK:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=UNAVAILABLE)
    return response.json()


router = APIRouter()


@router.get("/quotes/{symbol}")
async def read_quote(symbol: str, client: HttpClient) -> Quote:
    """The symbol's price from GET /v1/prices/{symbol}, reshaped:
    {"symbol": "ACME", "price": "123.45", "currency": "USD"}."""
    data = await fetch_json(client, f"/v1/prices/{symbol}", symbol)
    return Quote(symbol=symbol, price=data["price"]["amount"], currency=data["price"]["currency"])


@router.get("/overview/{symbol}")
async def read_overview(symbol: str, client: HttpClient) -> Overview:
    """The price and the company's name:
    {"symbol": "ACME", "name": "Acme Corp", "price": "123.45", "currency": "USD"}.

    Ask for both (GET /v1/prices/{symbol} and GET /v1/companies/{symbol}) at the same
    time, on the one injected client. Errors as in fetch_json.
    """
    price, company = await asyncio.gather(
        fetch_json(client, f"/v1/prices/{symbol}", symbol),
        fetch_json(client, f"/v1/companies/{symbol}", symbol),
    )
    return Overview(
        symbol=symbol,
        name=company["name"],
        price=price["price"]["amount"],
        currency=price["price"]["currency"],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app: its lifespan, its settings (Settings() when none are given) kept on
    app.state.settings for the lifespan to read, and the routes of `router`."""
    app = FastAPI(lifespan=lifespan)
    app.state.settings = settings or Settings()
    app.include_router(router)
    return app
