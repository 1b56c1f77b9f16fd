"""Right: an AsyncExitStack in the lifespan, the pool built by hand, settings injected
with a dependency, and asyncio.timeout around each upstream call."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel

UNAVAILABLE = "The prices service is unavailable"


@dataclass(frozen=True)
class Settings:
    prices_url: str = "https://prices.example.com"
    api_key: str = "dev-key"
    timeout: float = 3.0
    max_connections: int = 20
    transport: httpx.AsyncBaseTransport | None = None


class Quote(BaseModel):
    symbol: str
    price: str
    currency: str


class Overview(BaseModel):
    symbol: str
    name: str
    price: str
    currency: str


def new_http_client(settings: Settings) -> httpx.AsyncClient:
    transport = settings.transport or httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        ),
        retries=1,
    )
    return httpx.AsyncClient(
        base_url=settings.prices_url,
        headers={"X-Api-Key": settings.api_key, "Accept": "application/json"},
        transport=transport,
    )


async def get_http_client(request: Request) -> httpx.AsyncClient:
    return request.state.http


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(new_http_client(app.state.settings))
        yield {"http": client}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]
AppSettings = Annotated[Settings, Depends(get_settings)]


async def fetch_json(
    client: httpx.AsyncClient, path: str, symbol: str, seconds: float
) -> dict[str, Any]:
    # The app's own deadline for each upstream call; the client's own timeout stays
    # httpx's default (5 s), later than this one.
    try:
        async with asyncio.timeout(seconds):
            response = await client.get(path)
    except (TimeoutError, httpx.HTTPError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=UNAVAILABLE) from exc
    if response.status_code == 404:
        raise HTTPException(404, detail=f"Unknown symbol: {symbol}")
    if response.status_code != status.HTTP_200_OK:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=UNAVAILABLE)
    return response.json()


router = APIRouter()


@router.get("/quotes/{symbol}")
async def read_quote(symbol: str, client: HttpClient, settings: AppSettings) -> Quote:
    data = await fetch_json(client, f"/v1/prices/{symbol}", symbol, settings.timeout)
    price = data["price"]
    return Quote(symbol=data["ticker"], price=price["amount"], currency=price["currency"])


@router.get("/overview/{symbol}")
async def read_overview(symbol: str, client: HttpClient, settings: AppSettings) -> Overview:
    price_data, company = await asyncio.gather(
        fetch_json(client, f"/v1/prices/{symbol}", symbol, settings.timeout),
        fetch_json(client, f"/v1/companies/{symbol}", symbol, settings.timeout),
    )
    price = price_data["price"]
    return Overview(
        symbol=symbol, name=company["name"], price=price["amount"], currency=price["currency"]
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="Quotes", lifespan=lifespan)
    app.state.settings = settings or Settings()
    app.include_router(router)
    return app
