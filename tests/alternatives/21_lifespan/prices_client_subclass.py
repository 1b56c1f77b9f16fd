"""Right: a small httpx.AsyncClient subclass for the prices service, with its own methods,
kept on app.state by a lifespan written with try/finally."""

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


class PricesClient(httpx.AsyncClient):
    """The prices service's client: one per app, shared by every request."""

    async def fetch(self, path: str, symbol: str) -> dict[str, Any]:
        return await fetch_json(self, path, symbol)


def new_http_client(settings: Settings) -> httpx.AsyncClient:
    return PricesClient(
        base_url=settings.prices_url,
        headers={"x-api-key": settings.api_key},
        timeout=settings.timeout,
        limits=httpx.Limits(max_connections=settings.max_connections),
        transport=settings.transport,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    client = new_http_client(app.state.settings)
    try:
        app.state.http = client
        yield
    finally:
        del app.state.http
        await client.aclose()


async def get_http_client(request: Request) -> httpx.AsyncClient:
    return request.app.state.http


HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def fetch_json(client: httpx.AsyncClient, path: str, symbol: str) -> dict[str, Any]:
    try:
        response = await client.get(path)
    except httpx.TransportError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, UNAVAILABLE) from exc
    match response.status_code:
        case 200:
            return response.json()
        case 404:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Unknown symbol: {symbol}")
        case _:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, UNAVAILABLE)


router = APIRouter(prefix="")


@router.get("/quotes/{symbol}", response_model=Quote)
async def read_quote(symbol: str, client: HttpClient) -> dict[str, str]:
    data = await fetch_json(client, f"v1/prices/{symbol}", symbol)
    return {
        "symbol": data["ticker"],
        "price": data["price"]["amount"],
        "currency": data["price"]["currency"],
    }


@router.get("/overview/{symbol}")
async def read_overview(symbol: str, client: HttpClient) -> Overview:
    price_task = asyncio.ensure_future(fetch_json(client, f"v1/prices/{symbol}", symbol))
    company_task = asyncio.ensure_future(fetch_json(client, f"v1/companies/{symbol}", symbol))
    try:
        price, company = await asyncio.gather(price_task, company_task)
    finally:
        for task in (price_task, company_task):
            task.cancel()
    return Overview(
        symbol=symbol,
        name=company["name"],
        price=price["price"]["amount"],
        currency=price["price"]["currency"],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="Quotes", lifespan=lifespan)
    app.state.settings = Settings() if settings is None else settings
    app.include_router(router)
    return app
