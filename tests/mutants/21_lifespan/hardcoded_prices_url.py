"""Mutant: the client's base URL is the default one, not settings.prices_url."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

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
    return httpx.AsyncClient(
        base_url="https://prices.example.com",
        headers={"X-Api-Key": settings.api_key},
        timeout=httpx.Timeout(settings.timeout),
        limits=httpx.Limits(max_connections=settings.max_connections),
        transport=settings.transport,
    )


class State(TypedDict):
    http: httpx.AsyncClient


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """One client for the app's whole life: made at startup, closed at shutdown."""
    async with new_http_client(app.state.settings) as client:
        yield {"http": client}


async def get_http_client(request: Request) -> httpx.AsyncClient:
    """The app's shared client, from the lifespan state."""
    return request.state.http


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def fetch_json(client: httpx.AsyncClient, path: str, symbol: str) -> dict[str, Any]:
    """GET `path` on the prices service; its failures become HTTP errors of ours."""
    try:
        response = await client.get(path)
    except httpx.HTTPError as exc:  # refused, reset, timed out, ...
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=UNAVAILABLE) from exc
    if response.status_code == status.HTTP_404_NOT_FOUND:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Unknown symbol: {symbol}")
    if response.status_code != status.HTTP_200_OK:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=UNAVAILABLE)
    return response.json()


router = APIRouter()


@router.get("/quotes/{symbol}")
async def read_quote(symbol: str, client: HttpClient) -> Quote:
    """The symbol's price, reshaped from the prices service's answer."""
    data = await fetch_json(client, f"/v1/prices/{symbol}", symbol)
    return Quote(
        symbol=data["ticker"], price=data["price"]["amount"], currency=data["price"]["currency"]
    )


@router.get("/overview/{symbol}")
async def read_overview(symbol: str, client: HttpClient) -> Overview:
    """The price and the company's name, both asked for at once on the one client."""
    price, company = await asyncio.gather(
        fetch_json(client, f"/v1/prices/{symbol}", symbol),
        fetch_json(client, f"/v1/companies/{symbol}", symbol),
    )
    return Overview(
        symbol=price["ticker"],
        name=company["name"],
        price=price["price"]["amount"],
        currency=price["price"]["currency"],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app, with its lifespan, its settings on app.state and the routes."""
    app = FastAPI(title="Quotes", lifespan=lifespan)
    app.state.settings = settings or Settings()
    app.include_router(router)
    return app
