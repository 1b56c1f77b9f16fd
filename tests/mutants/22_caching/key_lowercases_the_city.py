"""Mutant: The key lowercases the city, but the service is asked for the city as given."""

import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field
from redis.asyncio import Redis

FORECAST_TTL = 600  # seconds a cached forecast lives in Redis
ARTICLE_TTL = 3600  # seconds a cached article lives in Redis
ARTICLE_MAX_AGE = 60  # seconds a client may reuse an article before it asks again


class WeatherUnavailable(Exception):
    """What the weather service raises when it cannot answer right now."""


class WeatherService(Protocol):
    async def forecast(self, city: str, days: int, units: str) -> dict[str, Any]:
        """The forecast for `city`, `days` days ahead, in `units`: a JSON-ready dict.

        Slow (a second or so) and billed per call: that is why it is cached. It may
        raise WeatherUnavailable.
        """
        ...


class ArticleStore(Protocol):
    async def load(self, slug: str) -> dict[str, Any] | None:
        """The article as a JSON-ready dict, or None when there is none. A slow query."""
        ...

    async def save(self, slug: str, article: dict[str, Any]) -> None:
        """Create or replace the article. Once it returns, `load` gives the new one."""
        ...


class ArticleIn(BaseModel):
    """What a client sends to create or replace an article."""

    title: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=100_000)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Given: one Redis client for the app's whole life (kata 21 is about lifespans)."""
    url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    app.state.redis = Redis.from_url(url, decode_responses=True)
    try:
        yield
    finally:
        await app.state.redis.aclose()


app = FastAPI(title="Forecasts and articles, cached", lifespan=lifespan)


async def get_redis(request: Request) -> Redis:
    """Given: the app's Redis client, made by the lifespan.

    It was made with `decode_responses=True`: `await redis.get(key)` gives back a `str`,
    or None when the key is not there. The tests hand the app their own client (an
    in-process fakeredis, or a real server) with `app.dependency_overrides[get_redis]`.
    """
    client: Redis = request.app.state.redis
    return client


def get_weather() -> WeatherService:
    """Given: the weather service. The tests provide one with dependency_overrides."""
    raise RuntimeError("No weather service here: the tests provide one.")


def get_articles() -> ArticleStore:
    """Given: the article store. The tests provide one with dependency_overrides."""
    raise RuntimeError("No article store here: the tests provide one.")


RedisDep = Annotated[Redis, Depends(get_redis)]
WeatherDep = Annotated[WeatherService, Depends(get_weather)]
ArticlesDep = Annotated[ArticleStore, Depends(get_articles)]


def etag_of(body: bytes) -> str:
    """A strong ETag for exactly these bytes: a hash of them, as text, in double quotes.

    Like `"9f86d081884c7d65..."` (the quotes are part of it). The same bytes always give
    the same ETag, in every process and after every restart; different bytes give
    different ones. Use hashlib (sha256, say), not Python's hash(), which changes from
    one process to the next.
    """
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def forecast_key(city: str, days: int, units: str) -> str:
    """One function builds the key, so every parameter is in it, always in one order."""
    return f"forecast:{city.lower()}:{days}:{units}"


def article_key(slug: str) -> str:
    """The one key of an article: read_article and save_article both use this."""
    return f"article:{slug}"


@app.get("/forecast/{city}")
async def forecast(
    city: str,
    redis: RedisDep,
    weather: WeatherDep,
    days: Annotated[int, Query(ge=1, le=7)] = 3,
    units: Literal["metric", "imperial"] = "metric",
) -> dict[str, Any]:
    """The forecast, cache-aside.

    Look in Redis first, under a key made of every parameter that changes the answer
    (city, days and units). A hit: give back the cached forecast (json.loads of the
    text) and don't call the weather service at all. A miss: `await weather.forecast(city,
    days, units)`, cache the answer as JSON text for FORECAST_TTL seconds (read the
    setting when you cache), and give it back.

    When the service raises WeatherUnavailable, answer 503 (HTTPException) and cache
    nothing: the next request asks the service again.
    """
    key = forecast_key(city, days, units)
    cached = await redis.get(key)
    if cached is not None:
        result: dict[str, Any] = json.loads(cached)
        return result
    try:
        fresh = await weather.forecast(city, days, units)
    except WeatherUnavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "The weather service is unavailable"
        ) from None
    await redis.set(key, json.dumps(fresh), ex=FORECAST_TTL)
    return fresh


@app.get("/articles/{slug}")
async def read_article(
    slug: str,
    redis: RedisDep,
    articles: ArticlesDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The article as JSON, cache-aside, with HTTP caching headers.

    The body is the article as JSON text: from Redis on a hit; on a miss,
    `json.dumps(await articles.load(slug))`, cached for ARTICLE_TTL seconds. No such
    article (load gives None): 404, and nothing cached.

    Every answer carries `ETag: etag_of(the body's bytes)` and
    `Cache-Control: max-age=ARTICLE_MAX_AGE`. When the request's If-None-Match header is
    exactly that ETag, the client already has this version: answer 304 Not Modified
    with the same two headers and no body. Otherwise answer 200 with the body, as
    `Response(body, media_type="application/json", headers=...)`.
    """
    key = article_key(slug)
    body = await redis.get(key)
    if body is None:
        article = await articles.load(slug)
        if article is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No article {slug!r}")
        body = json.dumps(article)
        await redis.set(key, body, ex=ARTICLE_TTL)
    etag = etag_of(body.encode())
    headers = {"ETag": etag, "Cache-Control": f"max-age={ARTICLE_MAX_AGE}"}
    if if_none_match == etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@app.put("/articles/{slug}")
async def save_article(
    slug: str, data: ArticleIn, redis: RedisDep, articles: ArticlesDep
) -> dict[str, Any]:
    """Create or replace the article, and answer it: {"slug": slug, "title": ..., "text": ...}.

    Save it with `await articles.save(slug, article)`. Then make sure no reader can get
    the old version from the cache: delete the article's key (the very key
    read_article uses), or overwrite it with the new article's JSON text and a TTL.
    Only this article's key: the other cached answers are still good.
    """
    article = {"slug": slug, **data.model_dump()}
    await articles.save(slug, article)
    await redis.delete(article_key(slug))
    return article
